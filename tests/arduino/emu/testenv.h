/* Included before every source of the test build (tests/arduino/build-sketches.sh,
 * -include): the examples' settings come from the environment, so that one binary runs
 * against a server on any port. The examples define these only when they are not
 * defined yet. */
#ifndef UPDRAFT_TESTENV_H
#define UPDRAFT_TESTENV_H
#include <stdlib.h>
#define UPDRAFT_URL      (getenv("UPD_URL") ? getenv("UPD_URL") : "")
#define UPDRAFT_BASE     (getenv("UPD_BASE") ? getenv("UPD_BASE") : "")
#define FIRMWARE_VERSION (getenv("UPD_VERSION") ? getenv("UPD_VERSION") : "")
#define CHECK_INTERVAL_MS                                                                          \
    ((unsigned long)atol(getenv("UPD_INTERVAL_MS") ? getenv("UPD_INTERVAL_MS") : "1000"))
#define UPDRAFT_STATE_SECTOR                                                                       \
    (getenv("UPD_STATE_SECTOR") ? (uint32_t)strtoul(getenv("UPD_STATE_SECTOR"), 0, 0)              \
                                : (uint32_t)FS_end - 0x40200000u)
#define UPDRAFT_FINGERPRINT (getenv("UPD_FINGERPRINT") ? getenv("UPD_FINGERPRINT") : "")
#define UPDRAFT_CA_PEM      updraft_test_file("UPD_CA_FILE")
#define UPDRAFT_PUBKEY_PEM  updraft_test_file("UPD_PUBKEY_FILE")
#define UPDRAFT_TLS_BUFFER  atoi(getenv("UPD_TLS_BUFFER") ? getenv("UPD_TLS_BUFFER") : "512")
#define WIFI_SSID           "test"
#define WIFI_PASSWORD       "test"
#ifdef __cplusplus
extern "C" {
#endif
/* the contents of the file named by the variable (read once, kept), "" if none */
const char *updraft_test_file(const char *var);
#ifdef __cplusplus
}
#endif
#endif
