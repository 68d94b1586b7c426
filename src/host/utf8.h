/* UTF-8 as PostgreSQL accepts it (the PostgreSQL store and `updraft db migrate` send
 * device text that may not be). */
#ifndef UPD_HOST_UTF8_H
#define UPD_HOST_UTF8_H

/* Length of the valid UTF-8 sequence at p (1..4; 1 for the NUL that ends a string), 0
 * when the bytes at p are not one (a stray continuation byte, an overlong form, a
 * surrogate, past U+10FFFF, or cut short). Reads no further than the first byte that
 * does not fit, so a NUL-terminated string is never read past its end. */
int upd_utf8_seq(const unsigned char *p);

#endif
