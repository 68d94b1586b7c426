/* Host-side image inspection of a whole file: maps the file, runs the core inspector
 * with GnuTLS's SHA-256, inflates gzip files with zlib and judges the inner image, and
 * computes the MD5 and SHA-256 of the whole file. Used by `updraft inspect` and by the
 * server's upload path, so both say exactly the same about a file. */
#ifndef UPD_HOST_FILEINSPECT_H
#define UPD_HOST_FILEINSPECT_H

#include <stddef.h>
#include <stdint.h>

#include "hexsum.h"
#include "updraft/image.h"

typedef struct upd_file_info {
    upd_image_report report; /* the verdict on the file as it is (gzip merged in) */
    upd_image_report inner;  /* gzip files: the report on the decompressed data */
    uint8_t has_inner;
    uint64_t size;       /* file length in bytes */
    uint64_t inner_size; /* decompressed length for gzip files */
    uint8_t md5[16];     /* of the whole file as stored */
    uint8_t sha256[32];
    char md5_hex[33]; /* lowercase hex, NUL-terminated */
    char sha256_hex[65];
    char inner_md5_hex[33]; /* gzip files: MD5 of the decompressed data (what a device
                               reports as its sketch MD5 once it runs it), else "" */
} upd_file_info;

/* Inspect the file at path. Returns 0 when the file could be read (whatever the
 * verdict: see out->report.verdict / out->report.error), or -1 when it could not be
 * opened or read or is larger than 4 GiB; then err holds a message naming the path and
 * the system's reason. */
int upd_inspect_file(const char *path, upd_file_info *out, char *err, size_t errlen);

/* The same for an open file descriptor (read from its current content, by size;
 * pipes are read fully into memory). name is used in messages. */
int upd_inspect_fd(int fd, const char *name, upd_file_info *out, char *err, size_t errlen);

/* The same for len bytes in memory (len < 4 GiB). */
void upd_inspect_buf(const uint8_t *data, size_t len, upd_file_info *out);

#endif
