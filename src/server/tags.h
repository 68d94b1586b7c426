/* Device tags (docs/api.md "Tags"): the operator's labels on devices ("lab",
 * "kitchen", "wave-a"), which filters select on (filter.h). A device's tags are kept as
 * one sorted, comma-separated list ("kitchen,lab"); the rules on names and the list
 * edits live here, above the store, which only stores the list. */
#ifndef UPD_SERVER_TAGS_H
#define UPD_SERVER_TAGS_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define UPD_TAG_LEN_MAX     24 /* characters of one tag */
#define UPD_TAGS_PER_DEVICE 10 /* 10 * (24 + 1) fits UPD_TAGS_MAX */

/* Is name (len bytes) a tag: 1 to 24 of a-z, 0-9, '.', '_', '-', beginning with a letter
 * or digit? 0 yes; -1 no, with a sentence in err that quotes it and says what is allowed. */
int upd__tag_check(const char *name, size_t len, char *err, size_t errlen);

/* 1 when the comma-separated list holds the tag of len bytes, else 0. No allocation. */
int upd__tags_has(const char *list, const char *tag, size_t len);

/* The list with tags[0..n) added (add = 1) or removed (add = 0), sorted and without
 * duplicates, into out (UPD_TAGS_MAX bytes). The tags must have passed upd__tag_check.
 * 0, or -1 with a sentence in err when the device would carry more than
 * UPD_TAGS_PER_DEVICE tags. */
int upd__tags_edit(const char *list, const char *const *tags, int n, int add,
                   char out[UPD_TAGS_MAX], char *err, size_t errlen);

#endif
