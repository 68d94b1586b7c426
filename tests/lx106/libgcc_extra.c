/* Integer arithmetic helpers that GCC calls on the lx106 (no hardware divide, no
 * 32x32->64 multiply) and that Debian's libgcc for xtensa-lx106-elf lacks: the ESP8266
 * normally takes them from its mask ROM, which QEMU does not have.
 *
 * Plain shift-and-subtract division: slow, small and exact. Nothing here may use '/',
 * '%' or a 64-bit '*' itself (that would call the helper being defined). Division by
 * zero reports an IntegerDivideByZero fault, as a core with a hardware divider would.
 */
#include "lx106_rt.h"

#include <stdint.h>

uint32_t __udivsi3(uint32_t n, uint32_t d);
uint32_t __umodsi3(uint32_t n, uint32_t d);
int32_t __divsi3(int32_t n, int32_t d);
int32_t __modsi3(int32_t n, int32_t d);
uint64_t __udivdi3(uint64_t n, uint64_t d);
uint64_t __umoddi3(uint64_t n, uint64_t d);
int64_t __divdi3(int64_t n, int64_t d);
int64_t __moddi3(int64_t n, int64_t d);
int64_t __muldi3(int64_t a, int64_t b);

__attribute__((noinline, noreturn)) static void divide_by_zero(void *caller)
{
    upd_lx106_fault(0, 6, (uint32_t)(uintptr_t)caller, 0,
                    (uint32_t)(uintptr_t)__builtin_frame_address(0), 0);
}

__attribute__((noinline)) static uint32_t udivmod32(uint32_t n, uint32_t d, uint32_t *rem)
{
    uint32_t q = 0, r = 0;
    for (int i = 31; i >= 0; i--) {
        uint32_t carry = r >> 31; /* r << 1 overflows only when d > 2^31 */
        r = (r << 1) | ((n >> i) & 1u);
        if (carry || r >= d) {
            r -= d;
            q |= 1u << i;
        }
    }
    *rem = r;
    return q;
}

__attribute__((noinline)) static uint64_t udivmod64(uint64_t n, uint64_t d, uint64_t *rem)
{
    if ((n >> 32) == 0 && (d >> 32) == 0) {
        uint32_t r32;
        uint64_t q = udivmod32((uint32_t)n, (uint32_t)d, &r32);
        *rem = r32;
        return q;
    }
    uint64_t q = 0, r = 0;
    for (int i = 63; i >= 0; i--) {
        uint64_t carry = r >> 63;
        r = (r << 1) | ((n >> i) & 1u);
        if (carry || r >= d) {
            r -= d;
            q |= (uint64_t)1 << i;
        }
    }
    *rem = r;
    return q;
}

uint32_t __udivsi3(uint32_t n, uint32_t d)
{
    uint32_t r;
    if (d == 0)
        divide_by_zero(__builtin_return_address(0));
    return udivmod32(n, d, &r);
}

uint32_t __umodsi3(uint32_t n, uint32_t d)
{
    uint32_t r;
    if (d == 0)
        divide_by_zero(__builtin_return_address(0));
    udivmod32(n, d, &r);
    return r;
}

static uint32_t abs32(int32_t v)
{
    return v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
}

static uint64_t abs64(int64_t v)
{
    return v < 0 ? 0u - (uint64_t)v : (uint64_t)v;
}

int32_t __divsi3(int32_t n, int32_t d)
{
    uint32_t r;
    if (d == 0)
        divide_by_zero(__builtin_return_address(0));
    uint32_t q = udivmod32(abs32(n), abs32(d), &r);
    return (int32_t)((n < 0) != (d < 0) ? 0u - q : q);
}

int32_t __modsi3(int32_t n, int32_t d)
{
    uint32_t r;
    if (d == 0)
        divide_by_zero(__builtin_return_address(0));
    udivmod32(abs32(n), abs32(d), &r);
    return (int32_t)(n < 0 ? 0u - r : r);
}

uint64_t __udivdi3(uint64_t n, uint64_t d)
{
    uint64_t r;
    if (d == 0)
        divide_by_zero(__builtin_return_address(0));
    return udivmod64(n, d, &r);
}

uint64_t __umoddi3(uint64_t n, uint64_t d)
{
    uint64_t r;
    if (d == 0)
        divide_by_zero(__builtin_return_address(0));
    udivmod64(n, d, &r);
    return r;
}

int64_t __divdi3(int64_t n, int64_t d)
{
    uint64_t r;
    if (d == 0)
        divide_by_zero(__builtin_return_address(0));
    uint64_t q = udivmod64(abs64(n), abs64(d), &r);
    return (int64_t)((n < 0) != (d < 0) ? 0u - q : q);
}

int64_t __moddi3(int64_t n, int64_t d)
{
    uint64_t r;
    if (d == 0)
        divide_by_zero(__builtin_return_address(0));
    udivmod64(abs64(n), abs64(d), &r);
    return (int64_t)(n < 0 ? 0u - r : r);
}

/* 32x32 -> 64 from 16-bit halves (the lx106 multiplier gives the low 32 bits only). */
static uint64_t umul32x32(uint32_t a, uint32_t b)
{
    uint32_t al = a & 0xffffu, ah = a >> 16, bl = b & 0xffffu, bh = b >> 16;
    uint32_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint32_t mid = (ll >> 16) + (lh & 0xffffu) + (hl & 0xffffu);
    uint32_t lo = (ll & 0xffffu) | (mid << 16);
    uint32_t hi = hh + (lh >> 16) + (hl >> 16) + (mid >> 16);
    return ((uint64_t)hi << 32) | lo;
}

int64_t __muldi3(int64_t a, int64_t b)
{
    uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
    uint32_t alo = (uint32_t)ua, ahi = (uint32_t)(ua >> 32);
    uint32_t blo = (uint32_t)ub, bhi = (uint32_t)(ub >> 32);
    uint64_t p = umul32x32(alo, blo);
    p += (uint64_t)(alo * bhi + ahi * blo) << 32;
    return (int64_t)p;
}
