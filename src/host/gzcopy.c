/* gzip copies of ESP8266 Arduino images and eboot's staging limit (gzcopy.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gzcopy.h"

#define SECTOR 4096u

int upd_gzip_compress(const uint8_t *in, size_t len, uint8_t **out, size_t *outlen, char *err,
                      size_t errlen)
{
    *out = NULL;
    *outlen = 0;
    if (len > 0x7FFFFFFFu) {
        snprintf(err, errlen, "the image is too large to compress (%zu bytes)", len);
        return -1;
    }
    z_stream z;
    memset(&z, 0, sizeof z);
    /* windowBits 15 + 16: a gzip wrapper (eboot checks 1F 8B); uzlib in eboot has a
     * 32 KB dictionary, so the full window is fine */
    if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
        snprintf(err, errlen, "zlib: deflateInit2 failed");
        return -1;
    }
    size_t cap = deflateBound(&z, (uLong)len) + 64;
    uint8_t *buf = malloc(cap);
    uint8_t *back = malloc(len ? len : 1);
    if (!buf || !back) {
        deflateEnd(&z);
        free(buf);
        free(back);
        snprintf(err, errlen, "out of memory compressing a %zu-byte image", len);
        return -1;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        free(back);
        snprintf(err, errlen, "zlib: deflate did not finish (%d)", rc);
        return -1;
    }
    /* the round trip: what eboot will write must be the image, byte for byte */
    memset(&z, 0, sizeof z);
    int ok = inflateInit2(&z, 15 + 16) == Z_OK;
    if (ok) {
        z.next_in = buf;
        z.avail_in = (uInt)n;
        z.next_out = back;
        z.avail_out = (uInt)len;
        ok = inflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out == len && z.avail_in == 0;
        inflateEnd(&z);
    }
    if (!ok || memcmp(back, in, len) != 0) {
        free(buf);
        free(back);
        snprintf(err, errlen, "the gzip copy does not inflate back to the image");
        return -1;
    }
    free(back);
    *out = buf;
    *outlen = n;
    return 0;
}

int upd_gzip_min_stage(const uint8_t *gz, size_t len, uint32_t *min_stage, uint32_t *isize,
                       char *err, size_t errlen)
{
    if (len < 18 || gz[0] != 0x1F || gz[1] != 0x8B || len > 0xFFFFFFFFu) {
        snprintf(err, errlen, "not a gzip file");
        return -1;
    }
    /* eboot takes the output length from the trailer, as it finds it on flash */
    uint32_t total = (uint32_t)gz[len - 4] | (uint32_t)gz[len - 3] << 8 |
                     (uint32_t)gz[len - 2] << 16 | (uint32_t)gz[len - 1] << 24;
    uint32_t nsec = total / SECTOR + (total % SECTOR != 0);
    uint32_t *blocks_at = malloc((nsec ? nsec : 1) * sizeof *blocks_at);
    uint8_t *out = malloc(SECTOR);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (!blocks_at || !out || inflateInit2(&z, 15 + 16) != Z_OK) {
        free(blocks_at);
        free(out);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* Blocks are handed to the inflater whole; the next one only when the current one is
     * used up and more output is wanted: the moment eboot's read callback would run. zlib
     * may read a few bits ahead inside the current block, which eboot's inflater would
     * read from the same block anyway. */
    uint32_t read = 0, left = total, k = 0;
    size_t pos = 0, blk_end = 0;
    int bad = 0;
    while (left > 0 && !bad) {
        uint32_t want = left < SECTOR ? left : SECTOR, fill = 0;
        while (fill < want) {
            if (pos == blk_end) {
                if (blk_end >= len) {
                    bad = 1; /* the stream ends before ISIZE bytes came out */
                    break;
                }
                read++;
                blk_end = blk_end + SECTOR < len ? blk_end + SECTOR : len;
            }
            z.next_in = (Bytef *)(uintptr_t)(gz + pos);
            z.avail_in = (uInt)(blk_end - pos);
            z.next_out = out + fill;
            z.avail_out = want - fill;
            int rc = inflate(&z, Z_NO_FLUSH);
            size_t used = blk_end - pos - z.avail_in;
            uint32_t made = want - fill - z.avail_out;
            pos += used;
            fill += made;
            if (rc == Z_STREAM_END && fill < want) {
                bad = 1;
                break;
            }
            if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
                bad = 1;
                break;
            }
            if (used == 0 && made == 0 && pos < blk_end) {
                bad = 1;
                break;
            }
        }
        if (!bad) {
            blocks_at[k++] = read; /* blocks read when output sector k is erased */
            left -= want;
        }
    }
    inflateEnd(&z);
    free(out);
    if (bad) {
        free(blocks_at);
        snprintf(err, errlen, "the gzip data is damaged or shorter than its trailer says");
        return -1;
    }
    /* Staged at sector S, block j lies in sector S + j. Output sector k erases block
     * j = k - S; harmless when that block was read already (j < blocks_at[k]) or is never
     * read (j >= read). So S >= k - blocks_at[k] + 1 for every k with blocks_at[k] < read. */
    uint32_t min = 0;
    for (uint32_t i = 0; i < k; i++)
        if (blocks_at[i] < read && i + 1 > blocks_at[i] && i + 1 - blocks_at[i] > min)
            min = i + 1 - blocks_at[i];
    free(blocks_at);
    *min_stage = min * SECTOR;
    if (isize)
        *isize = total;
    return 0;
}
