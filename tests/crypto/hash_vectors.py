#!/usr/bin/env python3
"""Reference digests for the device crypto library's hash tests (test_md5.c,
test_sha256.c): MD5 and SHA-256 by Python's hashlib (OpenSSL), an implementation
independent of src/client/crypto, of the first n bytes of the test message
msg[i] = (i * 37 + 11) mod 256, for lengths around the padding boundaries.

usage: hash_vectors.py > tests/crypto/hash_vectors.h   (write the table)
       hash_vectors.py --check tests/crypto/hash_vectors.h   (ctest crypto.hash_vectors:
       exits 1 when the file is not what this script writes)
Python 3 standard library only."""
import hashlib
import sys

LENGTHS = [1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 300]


def table():
    msg = bytes((i * 37 + 11) & 0xFF for i in range(max(LENGTHS)))
    out = ["/* Made by tests/crypto/hash_vectors.py (hashlib); do not edit. The MD5 and SHA-256",
           " * of the first n bytes of msg[i] = (i * 37 + 11) mod 256. */",
           "#define HV_MSG_LEN %d" % max(LENGTHS),
           "static const struct {",
           "    unsigned n;",
           "    const char *md5, *sha256;",
           "} hash_vectors[] = {"]
    for n in LENGTHS:
        out.append("    {%d, \"%s\",\n     \"%s\"}," % (n, hashlib.md5(msg[:n]).hexdigest(),
                                                     hashlib.sha256(msg[:n]).hexdigest()))
    out.append("};")
    return "\n".join(out) + "\n"


if len(sys.argv) == 3 and sys.argv[1] == "--check":
    with open(sys.argv[2]) as f:
        if f.read() != table():
            sys.exit("%s is not what hash_vectors.py writes: run\n"
                     "  tests/crypto/hash_vectors.py > %s" % (sys.argv[2], sys.argv[2]))
    print("%s: current" % sys.argv[2])
elif len(sys.argv) == 1:
    sys.stdout.write(table())
else:
    sys.exit(__doc__)
