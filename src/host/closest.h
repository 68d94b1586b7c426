/* "Did you mean ...?": the word of a list closest to a mistyped one, for the CLI's
 * commands and options and the server's channel names. */
#ifndef UPD_HOST_CLOSEST_H
#define UPD_HOST_CLOSEST_H

/* The word of list (NULL-terminated) closest to w by edit distance (a swap of two
 * neighbours is one edit; a prefix of 2 or more letters counts as close), when it is close
 * enough to be a typo of it (1 edit for up to 4 letters, 2 up to 8, 3 beyond); else NULL. */
const char *upd_closest(const char *w, const char *const *list);

#endif
