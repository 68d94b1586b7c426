/* upd_client_strerror: the device's texts for its error codes. A separate library
 * (updraft-client-text, linked by updraft-client) so that the engine itself carries no
 * message strings; the tools and the tests that print errors get it with the engine. */
#include <string.h>

#include "updraft/client.h"
#include "updraft/error.h"
#include "updraft/fit.h"

/* The Updater's texts for its errors 1..12, one after another. */
static const char updater_texts[] = "Flash Write Failed\0Flash Erase Failed\0Flash Read Failed\0"
                                    "Not Enough Space\0Bad Size Given\0Stream Read Timeout\0"
                                    "MD5 verification failed\0Flash Configuration Wrong\0"
                                    "New Flash Configuration Wrong\0Magic byte is not 0xE9\0"
                                    "Invalid bootstrapping state, reset ESP8266 before updating\0"
                                    "Signature verification failed";

const char *upd_client_strerror(int err)
{
    if (err == 0)
        return "no error";
    if (err == -109)
        return "Server Did Not Report Version";
    if (err >= 1 && err <= 12) {
        const char *t = updater_texts;
        while (--err)
            t += strlen(t) + 1;
        return t;
    }
    if (err >= -108 && err <= -1) {
        const char *t = upd_device_error_text(err);
        if (t[0])
            return t;
    }
    return upd_strerror(err);
}
