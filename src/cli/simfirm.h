/* Firmware behaviour per release for `updraft sim` (--bad-release VERSION:FAILRATE[:MODE]):
 * which simulated devices a bad release fails on (a fixed share, chosen from the seed, so
 * a run is reproducible) and how (the mode), and the tally per release the summary prints:
 * offered, updated, rolled back, looping (silent), refused. Host side (allocates).
 * docs/sim.md "Bad releases". */
#ifndef UPD_CLI_SIMFIRM_H
#define UPD_CLI_SIMFIRM_H

#include <stdint.h>
#include <stdio.h>

#define UPD_SIMFIRM_BAD_MAX  8  /* --bad-release options */
#define UPD_SIMFIRM_REL_MAX  8  /* distinct release versions tallied (then "other") */
#define UPD_SIMFIRM_VERS_MAX 48 /* a version, NUL included (the engine keeps 47 chars) */

/* How a bad release fails on a device it is bad for. */
enum upd_simfirm_mode {
    UPD_SIMFIRM_GOOD = 0, /* not bad on this device: installs, boots, confirms itself */
    UPD_SIMFIRM_ROLLBACK, /* ESP32: boots once, never confirms itself: the boot loader
                             goes back to the previous slot, which checks in */
    UPD_SIMFIRM_LOOP,     /* boots (ESP32: confirms itself, as Arduino-ESP32 does at start)
                             and keeps crashing: never checks in again */
    UPD_SIMFIRM_REFUSE    /* the device's Updater refuses the image at its end: ESP8266
                             error 12 (signature), ESP32 error 9 (activation) */
};

/* Flags of a device for one release (what happened at least once). */
enum {
    UPD_SIMFIRM_F_OFFERED = 1u << 0,
    UPD_SIMFIRM_F_ROLLED_BACK = 1u << 1,
    UPD_SIMFIRM_F_LOOPING = 1u << 2,
    UPD_SIMFIRM_F_REFUSED = 1u << 3
};

typedef struct upd_simfirm_bad {
    char version[UPD_SIMFIRM_VERS_MAX];
    double rate; /* share of the devices, 0..1 */
    int mode;    /* enum upd_simfirm_mode */
    uint32_t n;  /* devices it is bad for: round(rate * devices) */
} upd_simfirm_bad;

typedef struct upd_simfirm {
    upd_simfirm_bad bad[UPD_SIMFIRM_BAD_MAX];
    int nbad;
    uint32_t ndev;
    uint8_t *badmask; /* per device: bit b = bad[b] fails on it */
    /* the releases tallied: bad[] first (in their order), then as devices are offered them */
    char rel[UPD_SIMFIRM_REL_MAX][UPD_SIMFIRM_VERS_MAX];
    int nrel;
    uint8_t *flags; /* per device, UPD_SIMFIRM_REL_MAX bytes: UPD_SIMFIRM_F_* per release */
} upd_simfirm;

/* Add one --bad-release spec ("2.0.0:0.5:loop"; MODE defaults to refuse) for a fleet of
 * platform esp32 (1) or esp8266 (0). 0, or -1 after saying on stderr what was wrong, in
 * the terms of the option (a rollback on ESP8266 is refused with the reason). */
int upd_simfirm_add(upd_simfirm *f, const char *spec, int esp32);

/* Choose, for every bad release, exactly round(rate * ndev) of the ndev devices (numbered
 * first, first + 1, ...: the number in their MAC) from seed (the same seed, devices and
 * version choose the same ones), and make the tally's tables. 0, or -1 out of memory. */
int upd_simfirm_setup(upd_simfirm *f, uint32_t ndev, uint32_t first, uint32_t seed);

/* The mode of release version on device dev (UPD_SIMFIRM_GOOD when it is not bad there). */
int upd_simfirm_mode(const upd_simfirm *f, uint32_t dev, const char *version);

/* Device dev had one of UPD_SIMFIRM_F_* with release version ("" is ignored). */
void upd_simfirm_note(upd_simfirm *f, uint32_t dev, const char *version, unsigned flag);

/* The version device dev runs at the end when it installed it (NULL: it runs what it
 * started with, or nothing: looping, bricked). */
typedef const char *(*upd_simfirm_running_fn)(void *ctx, uint32_t dev);

/* The tally per release as a table on out (nothing when no release was offered or bad). */
void upd_simfirm_print(const upd_simfirm *f, FILE *out, upd_simfirm_running_fn running, void *ctx);
/* The same as a JSON array (no newline): [{"version", "bad": null | {"share", "mode",
 * "devices"}, "offered", "updated", "rolled_back", "looping", "refused"}, ...]. */
void upd_simfirm_json(const upd_simfirm *f, FILE *out, upd_simfirm_running_fn running, void *ctx);

void upd_simfirm_free(upd_simfirm *f);

/* "2s", "500ms", "1.5s", "2m", "1h" (a plain number is seconds) into milliseconds >= 1.
 * 0, or -1 when it is not a duration. */
int upd_simfirm_duration(const char *v, uint64_t *ms);

#endif
