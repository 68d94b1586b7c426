/* Version ordering for the version strings devices send (x-ESP8266-version,
 * esp_app_desc_t.version, ...). No allocation; strings need not be NUL-terminated.
 * The order is total and documented in docs/versions.md. */
#ifndef UPDRAFT_VERSION_H
#define UPDRAFT_VERSION_H

#include <stddef.h>

/* Longest version string accepted (the server stores them; devices send short ones). */
#define UPD_VERSION_MAX 255

/* Compare two version strings of the given lengths (no NUL needed; a NUL byte ends a
 * string early). Returns <0 if a orders before b, 0 if they are the same version
 * (e.g. "v1.2" and "1.2.0"), >0 if a orders after b. NULL with length 0 is the empty
 * string. Never fails: every pair of strings has an order. */
int upd_version_cmpn(const char *a, size_t alen, const char *b, size_t blen);

/* upd_version_cmpn for NUL-terminated strings (NULL is the empty string). */
int upd_version_cmp(const char *a, const char *b);

/* 1 if the string has the structure of a version (starts, after optional spaces and a
 * v/V, with a digit), 0 if it is opaque text (ordered by bytes, before every structured
 * version) or empty. */
int upd_version_is_structured(const char *v, size_t len);

#endif
