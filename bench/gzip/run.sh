#!/usr/bin/env bash
# The effect of gzip delivery (issue 8 part 4) on the real ESP8266 corpus: bytes on air,
# plain vs the gzip copy the server keeps (zlib level 9, the same code as the server:
# src/host/gzcopy.c), and the largest sketch that can still update itself on every
# standard flash layout of the core, plain vs gzip at each image's own ratio; and whether
# each image can update itself there. Every number comes from `updraft inspect --json
# --board SIZE` (the core's fit rules). Writes bench/results/gzip.md.
#
#   bench/gzip/run.sh [FIRMWARE_DIR]      (UPDRAFT=path/to/updraft to use a built binary)
set -euo pipefail
cd "$(dirname "$0")/../.."
FW=${1:-../shared/testdata/firmware}
if [ ! -f "$FW/MANIFEST.tsv" ]; then
    echo "bench/gzip: no corpus at $FW (give FIRMWARE_DIR)" >&2
    exit 2
fi
if [ -z "${UPDRAFT:-}" ]; then
    cmake --preset release >/dev/null
    cmake --build --preset release --target updraft >/dev/null
    UPDRAFT=build/release/src/cli/updraft
fi
python3 - "$UPDRAFT" "$FW" > bench/results/gzip.md <<'PY'
import json, os, subprocess, sys
upd, fw = sys.argv[1], sys.argv[2]
rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(fw, "MANIFEST.tsv"))]
head, rows = rows[0], rows[1:]
files = [r[head.index("file")] for r in rows if r[head.index("kind")].startswith("esp8266-app")]

def inspect(path, board):
    out = subprocess.run([upd, "inspect", "--json", "--board", board, path], check=True,
                         capture_output=True).stdout
    return json.loads(out)[0]

boards = ["512K", "1M", "2M", "4M", "8M", "16M"]
info = {f: {b: inspect(os.path.join(fw, f), b) for b in boards} for f in files}
ver = subprocess.run([upd, "--version"], capture_output=True).stdout.decode().strip()
print("# gzip delivery on the ESP8266 corpus\n")
print("Made by `bench/gzip/run.sh` (%s) from `updraft inspect --json --board SIZE` on every "
      "ESP8266 Arduino image of `../shared/testdata/firmware`; nothing here is typed by "
      "hand.\n" % ver)
print("## Bytes on air\n")
print("The plain image, and what `updraft serve` sends a device whose eboot inflates: the "
      "gzip copy it keeps (zlib level 9), or, for a release uploaded as gzip, the file "
      "itself. `min stage`: the lowest address eboot may inflate the copy from (it is "
      "below the inflated image's end, the side-by-side limit, in every case).\n")
print("| image | eboot inflates | plain bytes | gzip bytes | gzip / plain | saved | min stage | inflated end |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for f in files:
    r = info[f]["1M"]
    g = r.get("gzip_copy")
    plain = g["inflated_size"] if g else r["size"]
    end = (plain + 4095) // 4096 * 4096
    if g:
        print("| %s | %s | %d | %d | %.1f %% | %d | 0x%x | 0x%x |" % (
            f, "yes" if r["eboot_inflates"] else "no", plain, g["size"], 100.0 * g["size"] / plain,
            plain - g["size"], g["min_stage"], end))
print()
print("A device whose eboot does not inflate (core < 2.7: the milight-hub and esptool test "
      "images) always gets the plain image.\n")
print("## Largest sketch that can still update itself\n")
print("Per standard layout of the core (`tools/sdk/ld/eagle.flash.*.ld`): the sketch area "
      "is 0..FS start. Plain: the running sketch and the new one side by side, "
      "`2 * roundup(size, 4096) <= FS start`. gzip: the running sketch and the compressed "
      "copy side by side, at each image's compression ratio (the inflated image then "
      "fits below the staged copy). Bytes, multiples of 4096; `--`: its eboot does not "
      "inflate.\n")
gz_files = [f for f in files if info[f]["1M"].get("gzip_copy") and info[f]["1M"]["eboot_inflates"]]
def nick(f):
    parts = f.split("_")
    return parts[1] + (" (.gz file)" if f.endswith(".gz") else "")
short = {f: nick(f) for f in files}
print("| layout | sketch area | plain | " + " | ".join("gzip, %s ratio" % short[f] for f in gz_files) + " |")
print("|---|---:|---:|" + "---:|" * len(gz_files))
for b in boards:
    base = info[files[0]][b]["layouts"]
    for i, l in enumerate(base):
        cells = []
        for f in gz_files:
            lg = info[f][b]["layouts"][i]["largest_gzip"]
            cells.append(str(lg) if lg else "--")
        print("| %s | %d | %d | %s |" % (l["name"], l["fs_start"], l["largest_plain"], " | ".join(cells)))
print()
print("## Can each image update itself?\n")
print("The image running and updating to itself (the core's fit rules with sketch-size = "
      "its length and free-space = FS start - roundup(length, 4096)): plain / gzip. "
      "`big`: longer than the sketch area.\n")
print("| layout | " + " | ".join(short[f] for f in files) + " |")
print("|---|" + "---|" * len(files))
for b in boards:
    for i, l in enumerate(info[files[0]][b]["layouts"]):
        cells = []
        for f in files:
            x = info[f][b]["layouts"][i]
            if not x["fits_sketch_area"]:
                cells.append("big")
            else:
                cells.append("%s / %s" % ("yes" if x["self_update_plain"]["ok"] else "no",
                                          "yes" if x["self_update_gzip"]["ok"] else "no"))
        print("| %s | %s |" % (l["name"], " | ".join(cells)))
PY
echo "bench/gzip: wrote bench/results/gzip.md"
