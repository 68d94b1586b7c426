#!/usr/bin/env python3
"""Test vectors for the device crypto library (updraft/rsa.h), made now by the real
`updraft keygen` and `updraft sign`, then checked by test_rsa_vectors (host binary, or
the lx106 ELF under QEMU) run in the folder that holds them (docs/client.md "A verifier
for ports without crypto").

usage: vectors.py UPDRAFT MKIMAGE -- COMMAND...
  writes keys, images and cases.txt into a fresh temporary folder, runs COMMAND there
  (e.g. the test binary, or tests/lx106/run-qemu.sh TEST.elf) and exits with its status.

Cases (cases.txt: NAME FILE PUBKEY EXPECT ENGINE): RSA-2048 and RSA-3072 images signed
by `updraft sign` verify; the same image as the ESP8266 core's signing script makes it
(`openssl dgst -sha256 -sign`, then the length) verifies; another key, the other key
size, one bit flipped in the image and in the signature, a signature of all ones (not
below the modulus), a signature cut short (its trailer kept or adjusted), trailers of
the wrong length (255, 0, 0xFFFFFFFF, longer than the file), an unsigned image, and
keys the device must refuse (ECDSA, a private key) all fail as they must. With openssl
(raw RSA with the private key, no padding) the encodings a lenient verifier would let
through are made too: a padding byte other than 0xFF, block type 2, DigestInfo without
its NULL, another hash's DigestInfo, the digest at the right place but the encoding
shifted, and a valid signature plus the modulus (the same number mod n, but not below
n); and the correct encoding signed raw, which verifies. A 1 MiB
image signed with each key size is verified too: the run prints how long each took.
Python 3 standard library only."""
import os
import shutil
import struct
import subprocess
import sys
import tempfile


def run(*cmd):
    p = subprocess.run(list(cmd), capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        sys.exit("vectors.py: %s failed (exit %d): %s" % (" ".join(cmd), p.returncode, p.stderr))
    return p


def key_numbers(key):
    """(n, d) of the private key file key, read from `openssl pkey -text`."""
    p = subprocess.run(["openssl", "pkey", "-in", key, "-noout", "-text"],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        sys.exit("vectors.py: openssl pkey failed: %s" % p.stderr)

    def field(name, nxt):
        text = p.stdout.split(name + ":")[1].split(nxt + ":")[0]
        return int("".join(c for c in text if c in "0123456789abcdef"), 16)

    return field("modulus", "publicExponent"), field("privateExponent", "prime1")


def raw_sign(key, em, d):
    """em^d mod n with the private key file key: RSA with no padding at all."""
    n, priv = key_numbers(key)
    return pow(int.from_bytes(em, "big"), priv, n).to_bytes((n.bit_length() + 7) // 8, "big")


def modulus(key):
    return key_numbers(key)[0]


SHA256_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def raw_cases(d, payload, case):
    """Encodings RFC 8017 9.2 does not allow, signed raw with the RSA-2048 key: each must
    fail; the allowed one, signed the same way, must verify."""
    import hashlib
    key = os.path.join(d, "k2048.key")
    h = hashlib.sha256(payload).digest()
    k = 256

    def em(info, bt=1, fill=0xFF):
        t = info + h
        return bytes([0, bt]) + bytes([fill]) * (k - 3 - len(t)) + b"\0" + t

    def signed(e):
        s = raw_sign(key, e, d)
        assert len(s) == k
        return payload + s + struct.pack("<I", k)

    case("raw-correct-encoding", signed(em(SHA256_INFO)), "k2048.key.pub", "ok")
    bad = bytearray(em(SHA256_INFO))
    bad[40] = 0xFE
    case("raw-padding-byte-not-ff", signed(bytes(bad)), "k2048.key.pub", "UPD_ESIGNATURE")
    case("raw-block-type-2", signed(em(SHA256_INFO, bt=2)), "k2048.key.pub", "UPD_ESIGNATURE")
    no_null = bytes.fromhex("302f300b0609608648016503040201") + b"\x04\x20"
    case("raw-digestinfo-without-null", signed(em(no_null)), "k2048.key.pub", "UPD_ESIGNATURE")
    sha1_info = bytes.fromhex("3021300906052b0e03021a05000414")
    t = sha1_info + h[:20]
    sha1_em = b"\0\1" + b"\xff" * (k - 3 - len(t)) + b"\0" + t
    case("raw-sha1-digestinfo", signed(sha1_em), "k2048.key.pub", "UPD_ESIGNATURE")
    # one 0xFF fewer and a zero after the digest: still k bytes, the digest not at the end
    shifted = bytes([0, 1]) + b"\xff" * (k - 4 - 51) + b"\0" + SHA256_INFO + h + b"\0"
    case("raw-encoding-shifted", signed(shifted), "k2048.key.pub", "UPD_ESIGNATURE")
    # a valid signature plus n: the same value mod n, so only the s < n check refuses it;
    # try payloads until the sum still fits in k bytes
    n = modulus(key)
    for i in range(200):
        data = payload + bytes([i]) * (i + 1)
        h = hashlib.sha256(data).digest()
        s = int.from_bytes(raw_sign(key, em(SHA256_INFO), d), "big")
        if s + n < 1 << (8 * k):
            case("sig-plus-modulus", data + (s + n).to_bytes(k, "big") + struct.pack("<I", k),
                 "k2048.key.pub", "UPD_ESIGNATURE", 0)
            case("sig-plus-modulus-control", data + s.to_bytes(k, "big") + struct.pack("<I", k),
                 "k2048.key.pub", "ok", 0)
            break
    else:
        sys.exit("vectors.py: no signature s with s + n below 2^2048 in 200 tries")


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.exit(__doc__)
    updraft, mkimage, command = sys.argv[1], sys.argv[2], sys.argv[4:]
    d = tempfile.mkdtemp(prefix="updraft-rsavec-")
    os.chmod(d, 0o755)

    def path(name):
        return os.path.join(d, name)

    def write(name, data):
        with open(path(name), "wb") as f:
            f.write(data)

    def read(name):
        with open(path(name), "rb") as f:
            return f.read()

    for key, typ in (("k2048", "rsa2048"), ("k3072", "rsa3072"), ("other", "rsa2048"),
                     ("ec", "ecdsa")):
        run(updraft, "keygen", path(key + ".key"), "--type", typ)
    run(mkimage, "esp8266-app-tiny", path("small.bin"), "2500", "7")
    # a 1 MiB payload (1,048,576 bytes): the code segment makes up the rest
    run(mkimage, "esp8266-app", path("big.bin"), "1010144", "9")
    big = read("big.bin")
    if len(big) != 1048576:
        sys.exit("vectors.py: mkimage made a %d-byte image, not 1 MiB: adjust CODE_BYTES" % len(big))

    for img in ("small", "big"):
        for key in ("k2048", "k3072"):
            run(updraft, "sign", path(img + ".bin"), "--key", path(key + ".key"),
                "-o", path("%s-%s.signed" % (img, key)))
    payload = read("small.bin")
    s2048 = read("small-k2048.signed")
    s3072 = read("small-k3072.signed")
    assert s2048[:len(payload)] == payload and len(s2048) == len(payload) + 256 + 4
    sig = s2048[len(payload):-4]

    def flip(data, at, bit=0):
        b = bytearray(data)
        b[at] ^= 1 << bit
        return bytes(b)

    cases = []

    def case(name, data, key, expect, engine=1):
        fname = name + ".bin"
        write(fname, data)
        cases.append("%s %s %s %s %d" % (name, fname, key, expect, engine))

    case("rsa2048-updraft-sign", s2048, "k2048.key.pub", "ok")
    case("rsa3072-updraft-sign", s3072, "k3072.key.pub", "ok")
    if shutil.which("openssl"):
        # the ESP8266 core's tools/signing.py: openssl dgst -sha256 -sign, then u32 LE length
        p = subprocess.run(["openssl", "dgst", "-sha256", "-sign", path("k2048.key"),
                            path("small.bin")], capture_output=True, timeout=60, check=True)
        case("rsa2048-core-signing-script", payload + p.stdout + struct.pack("<I", len(p.stdout)),
             "k2048.key.pub", "ok")
    else:
        print("vectors.py: no openssl: the core's own signing command is not compared")
    case("wrong-key", s2048, "other.key.pub", "UPD_ESIGNATURE")
    case("wrong-key-size", s2048, "k3072.key.pub", "UPD_ESIGLEN")
    case("image-bit-flipped", flip(s2048, 0x1000 + 300, 3), "k2048.key.pub", "UPD_ESIGNATURE")
    case("image-last-bit-flipped", flip(s2048, len(payload) - 1, 7), "k2048.key.pub",
         "UPD_ESIGNATURE")
    case("sig-bit-flipped", flip(s2048, len(payload) + 100), "k2048.key.pub", "UPD_ESIGNATURE")
    case("sig-last-bit-flipped-3072", flip(s3072, len(s3072) - 5), "k3072.key.pub",
         "UPD_ESIGNATURE")
    case("sig-all-ones", payload + b"\xff" * 256 + struct.pack("<I", 256), "k2048.key.pub",
         "UPD_ESIGNATURE")
    case("sig-zero", payload + b"\x00" * 256 + struct.pack("<I", 256), "k2048.key.pub",
         "UPD_ESIGNATURE")
    case("sig-truncated", payload + sig[:-6] + struct.pack("<I", 256), "k2048.key.pub",
         "UPD_ESIGNATURE")
    case("sig-truncated-trailer-250", payload + sig[:-6] + struct.pack("<I", 250),
         "k2048.key.pub", "UPD_ESIGLEN")
    case("trailer-255", s2048[:-4] + struct.pack("<I", 255), "k2048.key.pub", "UPD_ESIGLEN")
    case("trailer-0", s2048[:-4] + struct.pack("<I", 0), "k2048.key.pub", "UPD_ESIGLEN")
    case("trailer-ffffffff", s2048[:-4] + struct.pack("<I", 0xFFFFFFFF), "k2048.key.pub",
         "UPD_ESIGLEN")
    case("trailer-longer-than-file", sig[:100] + struct.pack("<I", 256), "k2048.key.pub",
         "UPD_ESIGLEN", 0)
    case("unsigned", payload, "k2048.key.pub", "UPD_ESIGLEN")
    if shutil.which("openssl"):
        raw_cases(d, payload, case)
    case("key-ecdsa", s2048, "ec.key.pub", "UPD_EKEY", 0)
    case("key-private-pem", s2048, "k2048.key", "UPD_EKEY", 0)
    # 1 MiB: too big for the engine's test flash on lx106; the check alone, timed
    cases.append("big-rsa2048 big-k2048.signed k2048.key.pub ok 0")
    cases.append("big-rsa3072 big-k3072.signed k3072.key.pub ok 0")
    write("big-flipped.bin", flip(read("big-k3072.signed"), 1048575))
    cases.append("big-rsa3072-last-byte-flipped big-flipped.bin k3072.key.pub UPD_ESIGNATURE 0")
    write("cases.txt", ("\n".join(cases) + "\n").encode())

    p = subprocess.run(command, cwd=d, timeout=600)
    if p.returncode == 0:
        shutil.rmtree(d)
    else:
        print("vectors.py: %s exited %d; the vectors are kept in %s" % (command[0], p.returncode, d))
    sys.exit(p.returncode)


if __name__ == "__main__":
    main()
