#!/usr/bin/env python3
"""Write a synthetic firmware image of an exact size, for the inspect benchmark.

    make_image.py esp8266 OUT [SIZE]   Arduino ESP8266 .bin: eboot at 0 (padded with 0xAA
                                       to 0x1000), app at 0x1000 with three segments, the
                                       core 3.x length + CRC-32/MPEG-2 words at 0x1010
    make_image.py esp32 OUT [SIZE]     ESP32 application image: 24-byte header, four
                                       segments, esp_app_desc_t, appended SHA-256

SIZE defaults to 4194304 (4 MB) and must be a multiple of 16. Segment data is
pseudo-random (fixed seed), so every checksum covers real work. Python 3 standard library
only; the layout follows the esptool image format (header, segments, 0xEF-seeded XOR
checksum in the last byte of the 16-byte-aligned block).
"""
import hashlib
import random
import struct
import sys


def xor_checksum(chunks):
    acc = 0xEF
    for c in chunks:
        # XOR of all bytes: fold the number the bytes spell in halves, down to one byte
        v, n = int.from_bytes(c, "little"), len(c)
        while n > 1:
            half = (n + 1) // 2
            v = (v & ((1 << (8 * half)) - 1)) ^ (v >> (8 * half))
            n = half
        acc ^= v & 0xFF
    return acc


def esptool_image(header, segs):
    """header: bytes (8 or 24), segs: list of (load, data). Returns the image bytes."""
    out = bytearray(header)
    for load, data in segs:
        out += struct.pack("<II", load, len(data))
        out += data
    pad = 15 - len(out) % 16
    out += bytes(pad)
    out.append(xor_checksum([d for _, d in segs]))
    return out


def rand_bytes(rng, n):
    return rng.getrandbits(8 * n).to_bytes(n, "little") if n else b""


def crc32_mpeg2(data, crc=0xFFFFFFFF):
    table = []
    for i in range(256):
        c = i << 24
        for _ in range(8):
            c = ((c << 1) ^ 0x04C11DB7) if c & 0x80000000 else (c << 1)
        table.append(c & 0xFFFFFFFF)
    for b in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[((crc >> 24) ^ b) & 0xFF]
    return crc


def esp8266(size, rng):
    # eboot: one IRAM segment, entry inside 0x4010F000..0x40110000
    eboot = esptool_image(struct.pack("<BBBBI", 0xE9, 1, 2, 0x90, 0x4010F29C),
                          [(0x4010F000, rand_bytes(rng, 1384))])
    head = eboot + b"\xAA" * (0x1000 - len(eboot))
    # app: .irom0.text (with the 8 length/CRC bytes zero while the XOR is computed),
    # IRAM, DRAM; 48 bytes of headers + data + checksum block = size - 0x1000
    iram, dram = 28000, 1400
    irom = size - 0x1000 - 48 - iram - dram
    irom_data = bytearray(rand_bytes(rng, irom))
    irom_data[0:8] = bytes(8)
    app = esptool_image(struct.pack("<BBBBI", 0xE9, 3, 2, 0x90, 0x401000B8),
                        [(0x40201010, bytes(irom_data)), (0x40100000, rand_bytes(rng, iram)),
                         (0x3FFE8000, rand_bytes(rng, dram))])
    img = bytearray(head + app)
    assert len(img) == size, len(img)
    # core 3.x: u32 length, u32 CRC-32/MPEG-2 of the file with these 8 bytes zero,
    # written after the checksums (so the plain app XOR no longer verifies)
    crc = crc32_mpeg2(img)
    img[0x1010:0x1018] = struct.pack("<II", size, crc)
    return img


def esp32(size, rng):
    # 24-byte header: E9, nseg, mode, size_freq (4 MB, 40 MHz), entry, wp_pin 0xEE,
    # drive settings, chip id 0 (ESP32), min rev, min/max rev_full, reserved, hash 1
    hdr = struct.pack("<BBBBIB3sHBHH4sB", 0xE9, 4, 2, 0x20, 0x40080400, 0xEE, bytes(3), 0, 0, 0,
                      399, bytes(4), 1)
    assert len(hdr) == 24
    desc = struct.pack("<II8s32s32s16s16s32s32s", 0xABCD5432, 0, bytes(8), b"1.0.0",
                       b"bench", b"12:34:56", b"Jan  2 2025", b"v5.1",
                       rand_bytes(rng, 32))
    desc += bytes(256 - len(desc))
    # 24 + 4 * 8 + data + checksum block + 32 = size; data ends 16 bytes before the block
    drom, dram, iram = 300000, 20000, 100000
    irom = size - 32 - 16 - 24 - 32 - drom - dram - iram
    segs = [(0x3F400020, desc + rand_bytes(rng, drom - 256)), (0x3FFB0000, rand_bytes(rng, dram)),
            (0x40080000, rand_bytes(rng, iram)), (0x400D0020, rand_bytes(rng, irom))]
    img = esptool_image(hdr, segs)
    img += hashlib.sha256(img).digest()
    assert len(img) == size, len(img)
    return img


def main():
    if len(sys.argv) not in (3, 4) or sys.argv[1] not in ("esp8266", "esp32"):
        sys.stderr.write(__doc__)
        return 2
    size = int(sys.argv[3]) if len(sys.argv) == 4 else 4194304
    if size % 16 or size < 0x20000:
        sys.stderr.write("make_image.py: SIZE must be a multiple of 16, at least 131072\n")
        return 2
    rng = random.Random(0x5EED)
    img = esp8266(size, rng) if sys.argv[1] == "esp8266" else esp32(size, rng)
    with open(sys.argv[2], "wb") as f:
        f.write(img)
    return 0


if __name__ == "__main__":
    sys.exit(main())
