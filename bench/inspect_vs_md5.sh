#!/usr/bin/env bash
# Benchmark: `updraft inspect --json FILE` against `md5sum FILE` on 4 MB images.
#
#   bench/inspect_vs_md5.sh [PATH/TO/updraft]
#
# Builds nothing: give the updraft binary, or it takes the first of build/release/
# src/cli/updraft, build*/src/cli/updraft, build/*/src/cli/updraft (build a release one
# with: cmake --preset release && cmake --build --preset release).
#
# Two cases, each a 4,194,304-byte synthetic image written by bench/make_image.py:
#   esp8266  Arduino .bin (eboot + app, core 3.x length/CRC words at 0x1010)
#   esp32    ESP32 app image with esp_app_desc_t and appended SHA-256
# For each case both commands run ROUNDS times (default 30) after WARMUP runs each
# (default 3), interleaved in one loop (the order alternates each round), timed with
# bash's $EPOCHREALTIME. Prints a table of median times and the speed ratio
# md5sum / updraft (the goal: >= 0.5, inspect at least half as fast as md5sum). When
# hyperfine is installed it also measures both commands with it, as a cross-check.
# Results also go to bench/results/inspect.md (BENCH_RESULTS=path to change, empty to
# skip). Always exits 0 unless something could not run: it reports, it does not judge.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
rounds=${ROUNDS:-30}
warmup=${WARMUP:-3}
outdir=${BENCH_OUT:-$root/bench/out}
results=${BENCH_RESULTS-$root/bench/results/inspect.md}
size=4194304

die() {
    echo "inspect_vs_md5.sh: $*" >&2
    exit 2
}

bin=${1:-}
if [ -z "$bin" ]; then
    for c in "$root"/build/release/src/cli/updraft "$root"/build*/src/cli/updraft \
        "$root"/build/*/src/cli/updraft; do
        if [ -x "$c" ]; then
            bin=$c
            break
        fi
    done
fi
[ -n "$bin" ] || die "no updraft binary found; build one (cmake --preset release && cmake --build --preset release) or pass its path"
[ -x "$bin" ] || die "$bin is not an executable"
command -v md5sum >/dev/null || die "md5sum not found"
command -v python3 >/dev/null || die "python3 not found (needed to write the images)"

mkdir -p "$outdir"
declare -A file
file[esp8266]=$outdir/esp8266-arduino-4M.bin
file[esp32]=$outdir/esp32-sha256-4M.bin
for k in esp8266 esp32; do
    python3 "$here/make_image.py" "$k" "${file[$k]}" "$size"
    # the image must be what it claims, or the timing means nothing
    verdict=$("$bin" inspect "${file[$k]}" | sed -n 's/^  verdict *\([a-z-]*\):.*/\1/p') || true
    [ "$verdict" = "ota-app" ] || die "$k image: updraft says '$verdict', expected ota-app"
done

# Microseconds between two $EPOCHREALTIME values, into $REPLY (no fork, no subshell).
elapsed_us() {
    REPLY=$(((${2%.*} - ${1%.*}) * 1000000 + 10#${2#*.} - 10#${1#*.}))
}

run_updraft() { "$bin" inspect --json "$1" >/dev/null || true; }
run_md5() { md5sum "$1" >/dev/null; }

median() { sort -n | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }

declare -A med_u med_m
for k in esp8266 esp32; do
    f=${file[$k]}
    for ((i = 0; i < warmup; i++)); do
        run_updraft "$f"
        run_md5 "$f"
    done
    tu=() tm=()
    for ((i = 0; i < rounds; i++)); do
        if ((i % 2)); then order="m u"; else order="u m"; fi
        for w in $order; do
            t0=$EPOCHREALTIME
            if [ "$w" = u ]; then run_updraft "$f"; else run_md5 "$f"; fi
            t1=$EPOCHREALTIME
            elapsed_us "$t0" "$t1"
            if [ "$w" = u ]; then tu+=("$REPLY"); else tm+=("$REPLY"); fi
        done
    done
    med_u[$k]=$(printf '%s\n' "${tu[@]}" | median)
    med_m[$k]=$(printf '%s\n' "${tm[@]}" | median)
done

ms() { awk -v us="$1" 'BEGIN {printf "%.2f", us / 1000}'; }
ratio() { awk -v m="$1" -v u="$2" 'BEGIN {printf "%.2f", m / u}'; }
goal() { awk -v m="$1" -v u="$2" 'BEGIN {print (m / u >= 0.5) ? "yes" : "no"}'; }

table="| case | updraft inspect --json (median ms) | md5sum (median ms) | ratio md5sum/updraft | goal >= 0.5 |
|---|---:|---:|---:|:---:|"
for k in esp8266 esp32; do
    table+="
| $k 4 MB | $(ms "${med_u[$k]}") | $(ms "${med_m[$k]}") | $(ratio "${med_m[$k]}" "${med_u[$k]}") | $(goal "${med_m[$k]}" "${med_u[$k]}") |"
done

hf=""
if command -v hyperfine >/dev/null; then
    for k in esp8266 esp32; do
        f=${file[$k]}
        j=$outdir/hyperfine-$k.json
        hyperfine -N --style none --warmup "$warmup" --runs "$rounds" -i --export-json "$j" \
            "$bin inspect --json $f" "md5sum $f" >/dev/null 2>&1 || continue
        read -r hu hm < <(python3 -c 'import json,sys
r=json.load(open(sys.argv[1]))["results"]
print(int(r[0]["median"]*1e6), int(r[1]["median"]*1e6))' "$j")
        hf+="
| $k 4 MB (hyperfine, not interleaved) | $(ms "$hu") | $(ms "$hm") | $(ratio "$hm" "$hu") | $(goal "$hm" "$hu") |"
    done
fi

cpus=$(nproc)
model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "updraft: $bin (commit $commit)"
echo "machine: $cpus CPUs, ${model:-unknown model}; $rounds interleaved rounds after $warmup warm-up runs each"
echo "$table$hf"

if [ -n "$results" ]; then
    mkdir -p "$(dirname "$results")"
    {
        echo "# updraft inspect vs md5sum (4 MB images)"
        echo
        echo "Produced by \`bench/inspect_vs_md5.sh\` (see docs/benchmarks.md) on $(date -u +%Y-%m-%d)."
        echo
        echo "- machine: \`nproc\` = $cpus, \`lscpu\` model name: ${model:-unknown}"
        echo "- updraft: \`${bin#"$root"/}\` at commit $commit"
        echo "- $rounds rounds, the two commands alternating (order swapped every round), after $warmup warm-up runs of each; files in the page cache"
        echo
        echo "$table$hf"
    } >"$results"
    echo "written: ${results#"$root"/}"
fi
exit 0
