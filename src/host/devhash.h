/* The image hash a device reports once it runs an image, for host tools (the server's
 * release identity, doctor's loop check): what is on a device's flash is not always the
 * file it was sent. docs/protocol.md "How a device's image is recognised". */
#ifndef UPD_HOST_DEVHASH_H
#define UPD_HOST_DEVHASH_H

#include <stddef.h>
#include <stdint.h>

#include "updraft/image.h"

/* The MD5 (32 lowercase hex + NUL into hex) of the first len bytes of data with byte 2
 * replaced by flash mode mode (0 QIO, 1 QOUT, 2 DIO, 3 DOUT): what an ESP8266 Arduino
 * device running in that mode reports as x-ESP8266-sketch-md5 after installing the plain
 * image data (its Updater writes the chip's mode into byte 2; spec/esp8266-http-update.md
 * section 8). Returns 0, or -1 when len < 4 or hashing failed. */
int upd_devhash_md5_in_mode(const uint8_t *data, size_t len, uint8_t mode, char hex[33]);

/* 1 when data is an image the ESP8266 Updater rewrites that way: a plain (not gzip)
 * image, first byte 0xE9, at least 4 bytes. */
int upd_devhash_esp8266_rewrites(const uint8_t *data, size_t len);

/* What an ESP32-family device reports once it runs the application data[0..len), whose
 * inspection is rep (verdict OTA_APP, platform ESP32): md5 = x-ESP32-sketch-md5
 * (ESP.getSketchMD5(): the MD5 of the image as esp_image_verify measures it, header to
 * checksum padding plus the appended SHA-256 when byte 23 says so, nothing after it),
 * sha256 = x-ESP32-sketch-sha256 in lowercase (esp_partition_get_sha256(): the appended
 * digest when there is one, else the SHA-256 of that length). *appended (when not NULL)
 * says which. Returns 0, or -1 when rep is not such an image or hashing failed. */
int upd_devhash_esp32(const uint8_t *data, size_t len, const upd_image_report *rep, char md5[33],
                      char sha256[65], int *appended);

#endif
