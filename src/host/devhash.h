/* The image hash a device reports once it runs an image, for host tools (the server's
 * release identity, doctor's loop check): what is on a device's flash is not always the
 * file it was sent. docs/protocol.md "How a device's image is recognised". */
#ifndef UPD_HOST_DEVHASH_H
#define UPD_HOST_DEVHASH_H

#include <stddef.h>
#include <stdint.h>

/* The MD5 (32 lowercase hex + NUL into hex) of the first len bytes of data with byte 2
 * replaced by flash mode mode (0 QIO, 1 QOUT, 2 DIO, 3 DOUT): what an ESP8266 Arduino
 * device running in that mode reports as x-ESP8266-sketch-md5 after installing the plain
 * image data (its Updater writes the chip's mode into byte 2; spec/esp8266-http-update.md
 * section 8). Returns 0, or -1 when len < 4 or hashing failed. */
int upd_devhash_md5_in_mode(const uint8_t *data, size_t len, uint8_t mode, char hex[33]);

/* 1 when data is an image the ESP8266 Updater rewrites that way: a plain (not gzip)
 * image, first byte 0xE9, at least 4 bytes. */
int upd_devhash_esp8266_rewrites(const uint8_t *data, size_t len);

#endif
