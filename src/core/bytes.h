/* Little-endian decoding by bytes (the lx106 faults on unaligned loads: never cast a
 * byte pointer to a wider type). Private to the core. */
#ifndef UPD_CORE_BYTES_H
#define UPD_CORE_BYTES_H

#include <stdint.h>

static inline uint16_t upd__le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static inline uint32_t upd__le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
