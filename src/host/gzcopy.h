/* gzip for ESP8266 Arduino images (host only, zlib): the compressed copy the server keeps
 * next to a release, and the one number eboot's inflation needs from a gzip file, its
 * lowest safe staging address (docs/fit-rules.md "gzip"). */
#ifndef UPD_HOST_GZCOPY_H
#define UPD_HOST_GZCOPY_H

#include <stddef.h>
#include <stdint.h>

/* Compress len bytes at in into a gzip file (zlib, level 9, 32 KB window, no name, mtime
 * 0: the same input always gives the same bytes), then inflate it back and compare with
 * the input. On success *out (caller frees) holds *outlen bytes and 0 is returned; on
 * failure -1 with a message in err (out of memory, zlib error, or a round trip that did
 * not give the input back). */
int upd_gzip_compress(const uint8_t *in, size_t len, uint8_t **out, size_t *outlen, char *err,
                      size_t errlen);

/* Where eboot may inflate this gzip file from. eboot's copy_raw reads the staged file in
 * 4 KB blocks, each when its inflater needs the block's first byte, and writes its output
 * to address 0 sector by sector (erase, then write, once a sector is full), stopping after
 * ISIZE bytes. Staged at a sector-aligned address S, the copy works iff no output sector
 * is erased while it still holds a block of the file that will be read later. This walks
 * the inflation as eboot does and returns, in *min_stage, the lowest S for which that
 * holds (a multiple of 4096; at most roundup(ISIZE, 4096), where input and output never
 * meet). Also gives ISIZE in *isize (may be NULL). 0, or -1 with err set when the data is
 * not a complete gzip stream or memory runs out. */
int upd_gzip_min_stage(const uint8_t *gz, size_t len, uint32_t *min_stage, uint32_t *isize,
                       char *err, size_t errlen);

#endif
