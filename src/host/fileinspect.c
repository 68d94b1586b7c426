/* Whole-file inspection on the host: see fileinspect.h. */
#include "fileinspect.h"
#include "gzcopy.h"

#include <errno.h>
#include <pthread.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "updraft/error.h"

/* Decompressed firmware is never larger than the biggest flash chip. */
#define MAX_INFLATED (128u * 1024u * 1024u)

/* The core's SHA-256 provider, backed by GnuTLS. */
struct sha_state {
    gnutls_hash_hd_t h;
    int ok;
};

static void sha_init(void *ctx)
{
    struct sha_state *s = ctx;
    s->ok = gnutls_hash_init(&s->h, GNUTLS_DIG_SHA256) == 0;
}

static void sha_update(void *ctx, const void *data, size_t len)
{
    struct sha_state *s = ctx;
    if (s->ok)
        gnutls_hash(s->h, data, len);
}

static void sha_final(void *ctx, uint8_t out[32])
{
    struct sha_state *s = ctx;
    if (s->ok)
        gnutls_hash_deinit(s->h, out);
    else
        memset(out, 0, 32);
    s->ok = 0;
}

/* Inflate a gzip file in memory. Returns the buffer (caller frees) or NULL. */
static uint8_t *gunzip(const uint8_t *data, size_t len, uint32_t isize_hint, size_t *outlen)
{
    size_t cap = isize_hint > 0 && isize_hint <= MAX_INFLATED ? isize_hint : len * 4 + 4096;
    if (cap > MAX_INFLATED)
        cap = MAX_INFLATED;
    uint8_t *out = malloc(cap ? cap : 1);
    if (!out)
        return NULL;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        free(out);
        return NULL;
    }
    z.next_in = (Bytef *)(uintptr_t)data;
    size_t in_left = len;
    int rc = Z_OK;
    size_t produced = 0;
    while (rc != Z_STREAM_END) {
        if (produced == cap) {
            if (cap >= MAX_INFLATED)
                break;
            size_t ncap = cap * 2 > MAX_INFLATED ? MAX_INFLATED : cap * 2;
            uint8_t *n = realloc(out, ncap);
            if (!n)
                break;
            out = n;
            cap = ncap;
        }
        uInt in_chunk = in_left > 0x40000000u ? 0x40000000u : (uInt)in_left;
        z.avail_in = in_chunk;
        z.next_out = out + produced;
        z.avail_out = (uInt)(cap - produced > 0x40000000u ? 0x40000000u : cap - produced);
        uInt before_out = z.avail_out;
        rc = inflate(&z, Z_NO_FLUSH);
        produced += before_out - z.avail_out;
        in_left -= in_chunk - z.avail_in;
        if (rc == Z_BUF_ERROR && z.avail_out != 0)
            break; /* input ended early */
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
            break;
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    *outlen = produced;
    return out;
}

static void inspect_gzip(const uint8_t *data, size_t len, upd_sha256_ops *ops, upd_file_info *out);

/* The whole-file MD5 is computed on a second thread while the first one inspects and
 * takes the SHA-256 (all only read the mapped file): MD5 is the slowest of the three. */
struct hash_job {
    const uint8_t *data;
    size_t len;
    upd_file_info *out;
};

static void *hash_md5(void *arg)
{
    struct hash_job *j = arg;
    gnutls_hash_fast(GNUTLS_DIG_MD5, j->data, j->len, j->out->md5);
    return NULL;
}

static void inspect_buffer(const uint8_t *data, size_t len, upd_file_info *out)
{
    struct sha_state st;
    upd_sha256_ops ops = {sha_init, sha_update, sha_final, &st};
    upd_source src;
    struct hash_job job = {data, len, out};
    pthread_t th;

    out->size = len;
    /* small files are not worth a thread; no thread: do it here */
    int threaded = len >= 256u * 1024u && pthread_create(&th, NULL, hash_md5, &job) == 0;
    if (!threaded)
        hash_md5(&job);
    gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, out->sha256);
    upd_source_init_mem(&src, data, (uint32_t)len);
    upd_image_inspect(&src, &ops, &out->report);
    if (out->report.gzip && out->report.verdict == UPD_VERDICT_INCOMPLETE)
        inspect_gzip(data, len, &ops, out);
    if (threaded)
        pthread_join(th, NULL);
    upd_hex(out->md5, 16, out->md5_hex);
    upd_hex(out->sha256, 32, out->sha256_hex);
}

/* Inflate a gzip file and judge what it holds. */
static void inspect_gzip(const uint8_t *data, size_t len, upd_sha256_ops *ops, upd_file_info *out)
{
    upd_source src;

    size_t ilen = 0;
    uint8_t *inner = gunzip(data, len, out->report.gzip_isize, &ilen);
    if (!inner || ilen > 0xFFFFFFFFu) {
        free(inner);
        upd_image_judge_gzip(&out->report, NULL, UPD_EGZIP);
        return;
    }
    out->inner_size = ilen;
    uint8_t md5[16];
    gnutls_hash_fast(GNUTLS_DIG_MD5, inner, ilen, md5);
    upd_hex(md5, 16, out->inner_md5_hex);
    upd_source_init_mem(&src, inner, (uint32_t)ilen);
    upd_image_inspect(&src, ops, &out->inner);
    out->has_inner = 1;
    upd_image_judge_gzip(&out->report, &out->inner, 0);
    free(inner);
    /* where eboot may inflate it from: needed by the fit rules on a device */
    uint32_t min_stage, isize;
    char e[120];
    if (upd_gzip_min_stage(data, len, &min_stage, &isize, e, sizeof e) == 0 &&
        isize == out->report.gzip_isize) {
        out->report.gzip_min_stage = min_stage;
        out->report.gzip_min_stage_known = 1;
    }
}

void upd_inspect_buf(const uint8_t *data, size_t len, upd_file_info *out)
{
    memset(out, 0, sizeof *out);
    inspect_buffer(data, len, out);
}

int upd_inspect_fd(int fd, const char *name, upd_file_info *out, char *err, size_t errlen)
{
    struct stat st;
    memset(out, 0, sizeof *out);
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", name, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: is a directory, not a firmware file", name);
        return -1;
    }
    if (S_ISREG(st.st_mode)) {
        if ((uint64_t)st.st_size > 0xFFFFFFFFu) {
            snprintf(err, errlen, "%s: %lld bytes is larger than any flash chip (max 4 GiB)", name,
                     (long long)st.st_size);
            return -1;
        }
        size_t len = (size_t)st.st_size;
        if (len == 0) {
            inspect_buffer((const uint8_t *)"", 0, out);
            return 0;
        }
        void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            snprintf(err, errlen, "%s: cannot map the file: %s", name, strerror(errno));
            return -1;
        }
        madvise(map, len, MADV_SEQUENTIAL | MADV_WILLNEED);
        inspect_buffer(map, len, out);
        munmap(map, len);
        return 0;
    }
    /* a pipe or device: read it all */
    size_t cap = 1 << 20, len = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    for (;;) {
        if (len == cap) {
            if (cap >= 0x80000000u) {
                free(buf);
                snprintf(err, errlen, "%s: more than 2 GiB of data: not a firmware file", name);
                return -1;
            }
            uint8_t *n = realloc(buf, cap * 2);
            if (!n) {
                free(buf);
                snprintf(err, errlen, "%s: out of memory", name);
                return -1;
            }
            buf = n;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            snprintf(err, errlen, "%s: read failed: %s", name, strerror(errno));
            free(buf);
            return -1;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    inspect_buffer(buf, len, out);
    free(buf);
    return 0;
}

int upd_inspect_file(const char *path, upd_file_info *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        memset(out, 0, sizeof *out);
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = upd_inspect_fd(fileno(f), path, out, err, errlen);
    fclose(f);
    return rc;
}
