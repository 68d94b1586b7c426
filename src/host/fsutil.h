/* Small file-system helpers shared by the server and the CLI. */
#ifndef UPD_HOST_FSUTIL_H
#define UPD_HOST_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* mkdir -p path with mode for each folder made. 0, or -1 with errno. */
int upd_mkdir_p(const char *path, mode_t mode);
/* fsync the folder dir (a rename or a new file in it made durable). 0, or -1. */
int upd_fsync_dir(const char *dir);
/* RFC 4648 base64 of the string in into out (cap bytes, NUL-terminated; cut short when
 * out is too small): the value of HTTP Basic authentication ("user:password"). */
void upd_base64(const char *in, char *out, size_t cap);
/* SHA-256 of the file at path in lowercase hex into hex, its size into *size. 0, or -1
 * when it cannot be read. */
int upd_sha256_file(const char *path, char hex[65], uint64_t *size);

/* A whole file (up to 32 MiB) into a NUL-terminated malloc'd buffer, its length in *len
 * (len may be NULL). 0, or -1 with errno set (EFBIG when too large). */
int upd_read_file(const char *path, char **out, size_t *len);

#endif
