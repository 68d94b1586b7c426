/* CRC-32/MPEG-2: poly 0x04C11DB7, init 0xFFFFFFFF, MSB first, no reflection, no final
 * xor; check value for "123456789" is 0x0376E6E7. The tables (tools/gen-crc32-tables.py)
 * live in read-only data (flash on the ESP8266). Devices use the 1 KB byte-at-a-time
 * table; host builds (UPD_CRC_SLICE8) add 7 KB more to take 8 bytes per step, which
 * makes inspecting a core 3.x image several times faster. */
#include "updraft/image.h"

#include "crc32_tables.h"

uint32_t upd_crc32_mpeg2(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
#ifdef UPD_CRC_SLICE8
    for (; len >= 8; len -= 8, p += 8) {
        uint32_t hi = crc ^ ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
                             (uint32_t)p[3]);
        crc = crc_slice[6][hi >> 24] ^ crc_slice[5][(hi >> 16) & 0xFFu] ^
              crc_slice[4][(hi >> 8) & 0xFFu] ^ crc_slice[3][hi & 0xFFu] ^ crc_slice[2][p[4]] ^
              crc_slice[1][p[5]] ^ crc_slice[0][p[6]] ^ crc_table[p[7]];
    }
#endif
    while (len--)
        crc = (crc << 8) ^ crc_table[((crc >> 24) ^ *p++) & 0xFFu];
    return crc;
}
