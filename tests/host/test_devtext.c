/* Device error texts per device client (src/host/devtext.c). */
#include "devtext.h"
#include "upd_test.h"

static void test_esp32_words(void)
{
    CHECK_STR(upd_client_strerror_for(UPD_CLIENT_ESP8266_ARDUINO, 9),
              "New Flash Configuration Wrong");
    CHECK_STR(upd_client_strerror_for(UPD_CLIENT_ESP32_ARDUINO, 9),
              "Could Not Activate The Firmware");
    CHECK_STR(upd_client_strerror_for(UPD_CLIENT_ESP32_ARDUINO, 8), "Wrong Magic Byte");
    CHECK_STR(upd_client_strerror_for(UPD_CLIENT_ESP32_ARDUINO, 1), "Flash Write Failed");
    CHECK_STR(upd_client_strerror_for(UPD_CLIENT_ESP32_ARDUINO, 12), "Aborted");
    CHECK_STR(upd_client_strerror_for(UPD_CLIENT_ESP32_ARDUINO, -108),
              "Partition Could Not be Found");
    CHECK_STR(upd_client_strerror_for(UPD_CLIENT_ESP32_ARDUINO, -106), "Verify Bin Header Failed");
    CHECK_STR(upd_client_strerror_for(UPD_CLIENT_ESP8266_ARDUINO, -108), "Unauthorized (401)");
    CHECK_STR(upd_client_strerror_for(UPD_CLIENT_ESP32_ARDUINO, 0), "no error");
}

int main(void)
{
    RUN(test_esp32_words);
    return upd_test_summary();
}
