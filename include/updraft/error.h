/* updraft error codes: one X-macro table yields the negative constants, their names
 * and their human messages. A function that can fail returns int: 0 (or a count) on
 * success, one of these negative codes on failure. */
#ifndef UPDRAFT_ERROR_H
#define UPDRAFT_ERROR_H

/* X(NAME, value, message). Messages say what was wrong and what to do. */
#define UPD_ERRNO_MAP(X)                                                                           \
    X(EINVAL, -1, "invalid argument: a required pointer was NULL or a size was out of range")      \
    X(ENOSPC, -2, "buffer too small for the result: pass a larger buffer")                         \
    X(EIO, -3, "could not read the data: check that the file or stream is still readable")         \
    X(EEMPTY, -10,                                                                                 \
      "the file is empty (0 bytes): the build or the download failed; upload the .bin the "        \
      "build produced")                                                                            \
    X(ETRUNC, -11,                                                                                 \
      "the file ends inside the image: it was cut short (incomplete download or copy); upload "    \
      "the complete file")                                                                         \
    X(ENOTIMAGE, -12,                                                                              \
      "not a firmware image: upload the .bin file your build produced (for PlatformIO "            \
      ".pio/build/<env>/firmware.bin)")                                                            \
    X(ENOTAPP, -13,                                                                                \
      "a firmware-related file, but not an application image a device can install over the "       \
      "air: upload the application .bin")                                                          \
    X(ECHECKSUM, -14,                                                                              \
      "the image checksum does not match its contents: the file is corrupted; rebuild it or "      \
      "download it again")                                                                         \
    X(EHASH, -15,                                                                                  \
      "the SHA-256 appended to the image does not match: the file is corrupted; rebuild it or "    \
      "download it again")                                                                         \
    X(ECRC, -16,                                                                                   \
      "the Arduino length/CRC words in the image do not match the file: the file is corrupted "    \
      "or was modified after the build; rebuild it")                                               \
    X(EFORMAT, -17,                                                                                \
      "the image header or segment table is malformed: the file is corrupted or not made by "      \
      "esptool/elf2bin; rebuild it")                                                               \
    X(EGZIP, -18,                                                                                  \
      "the gzip data is damaged or does not hold a firmware image: compress the .bin itself "      \
      "with gzip -9")                                                                              \
    X(EUNSUPPORTED, -19, "this firmware feature is not supported by updraft yet")                  \
    X(EVERSION, -30, "the version string is empty or too long (max 255 characters)")               \
    X(ENOFIT, -40, "the image would not be accepted by the device (see the explanation)")          \
    X(ESHA256, -50,                                                                                \
      "the downloaded image's SHA-256 does not match the announced one: the download was "         \
      "corrupted or the server sent another file; the update was not installed, check again")      \
    X(EIMAGE, -51,                                                                                 \
      "the downloaded file is not an image this device can boot (inspector, see the detail "       \
      "code): the update was not installed; publish the right .bin for this device")               \
    X(ESTATE, -52,                                                                                 \
      "the boot command could not be written to persistent state (RTC memory / otadata): "         \
      "the update was not installed; check the port's state operations")                           \
    X(ERESUME, -53,                                                                                \
      "the server's answer to a resumed download (Range) does not match the interrupted one "      \
      "(other length, ETag or range): progress dropped, the next check starts over")               \
    X(EKEY, -60,                                                                                   \
      "the public key is not an RSA key of 2048 to 3072 bits with an odd exponent, in PEM or "     \
      "DER (PUBLIC KEY or RSA PUBLIC KEY): give the device the .pub file of `updraft keygen`")     \
    X(ESIGLEN, -61,                                                                                \
      "the signature is not as long as the key's modulus (256 bytes for RSA-2048, 384 for "        \
      "RSA-3072): sign the image with the key whose public half the device holds")                 \
    X(ESIGNATURE, -62,                                                                             \
      "the signature does not verify with the device's key: the image was changed after "          \
      "signing or signed with another key; sign it again with `updraft sign --key KEY`")

/* The constants: UPD_EINVAL, UPD_ETRUNC, ... */
enum upd_errno {
#define UPD__ERR_ENUM(name, value, msg) UPD_##name = value,
    UPD_ERRNO_MAP(UPD__ERR_ENUM)
#undef UPD__ERR_ENUM
};

/* Human message for an updraft error code. Never NULL: unknown codes (including 0 and
 * positive numbers) give a fixed "unknown error" / "success" text. */
const char *upd_strerror(int err);

/* Symbolic name ("UPD_ETRUNC") for an updraft error code, or "UPD_UNKNOWN". Never NULL. */
const char *upd_err_name(int err);

#endif
