/* C part of the lx106 test runtime: stdio over QEMU semihosting, start-up, exit, and
 * the fault report. See docs/lx106.md. */
#include "lx106_rt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void);

/* Linker script symbols (lx106.ld). */
extern char __upd_bss_start[], __upd_bss_end[];
extern char __upd_stack_bottom[], __upd_stack_top[];
extern void (*__preinit_array_start[])(void), (*__preinit_array_end[])(void);
extern void (*__init_array_start[])(void), (*__init_array_end[])(void);

/* ---- output: stdout/stderr are one line-buffered stream written to the host's fd 1 --- */

static char out_buf[256];
static size_t out_len;

static void out_write(const char *p, size_t n)
{
    while (n > 0) {
        int r = upd_lx106_simcall(UPD_SEMIHOST_WRITE, 1, (int)(uintptr_t)p, (int)n);
        if (r <= 0)
            return;
        p += r;
        n -= (size_t)r;
    }
}

static void out_flush(void)
{
    out_write(out_buf, out_len);
    out_len = 0;
}

static int out_put(char c, FILE *f)
{
    (void)f;
    out_buf[out_len++] = c;
    if (c == '\n' || out_len == sizeof out_buf)
        out_flush();
    return (unsigned char)c;
}

static int out_fflush(FILE *f)
{
    (void)f;
    out_flush();
    return 0;
}

static FILE upd_stdio = FDEV_SETUP_STREAM(out_put, NULL, out_fflush, _FDEV_SETUP_WRITE);
FILE *const stdin = &upd_stdio; /* write-only: reading gives EOF */
FILE *const stdout = &upd_stdio;
FILE *const stderr = &upd_stdio;

/* ---- start and exit ---- */

/* Stack high-water mark: cstart fills the free stack with a pattern, _exit finds the
 * lowest word that changed and prints how much of the stack the test used. */
#define STACK_PAINT 0x57ac57acu

static void say(const char *s);
static void say_dec(uint32_t v);

static void report_stack(void)
{
    const uint32_t *p = (const uint32_t *)(void *)__upd_stack_bottom;
    const uint32_t *top = (const uint32_t *)(void *)__upd_stack_top;
    while (p < top && *p == STACK_PAINT)
        p++;
    say("lx106: stack used ");
    say_dec((uint32_t)((const char *)top - (const char *)p));
    say(" of ");
    say_dec((uint32_t)(__upd_stack_top - __upd_stack_bottom));
    say(" bytes\n");
}

void _exit(int status)
{
    out_flush();
    report_stack();
    upd_lx106_simcall(UPD_SEMIHOST_EXIT, status, 0, 0);
    for (;;) {
    }
}

void upd_lx106_cstart(void)
{
    uint32_t *paint = (uint32_t *)(void *)__upd_stack_bottom;
    uint32_t *below_frame = (uint32_t *)__builtin_frame_address(0) - 16;
    while (paint < below_frame)
        *paint++ = STACK_PAINT;
    memset(__upd_bss_start, 0, (size_t)(__upd_bss_end - __upd_bss_start));
    for (void (**f)(void) = __preinit_array_start; f < __preinit_array_end; f++)
        (*f)();
    for (void (**f)(void) = __init_array_start; f < __init_array_end; f++)
        (*f)();
    exit(main());
}

/* ---- fault report: no printf (its state may be what broke), own small stack ---- */

static void say(const char *s)
{
    out_write(s, strlen(s));
}

static void say_hex(uint32_t v)
{
    char b[11] = "0x";
    for (int i = 0; i < 8; i++)
        b[2 + i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 0xf];
    b[10] = '\0';
    say(b);
}

static void say_dec(uint32_t v)
{
    char b[11];
    int i = 10;
    b[i] = '\0';
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    say(&b[i]);
}

/* EXCCAUSE values of the Xtensa ISA that an lx106 can raise. */
static const char *cause_name(uint32_t cause)
{
    switch (cause) {
    case 0: return "IllegalInstruction";
    case 1: return "Syscall";
    case 2: return "InstructionFetchError";
    case 3: return "LoadStoreError";
    case 4: return "Level1Interrupt";
    case 5: return "Alloca";
    case 6: return "IntegerDivideByZero";
    case 8: return "Privileged";
    case 9: return "LoadStoreAlignment (unaligned load/store)";
    case 12: return "InstrPIFDataError";
    case 13: return "LoadStorePIFDataError";
    case 14: return "InstrPIFAddrError (no memory there)";
    case 15: return "LoadStorePIFAddrError (no memory there)";
    case 20: return "InstFetchProhibited";
    case 26: return "LoadStorePrivilege";
    case 28: return "LoadProhibited";
    case 29: return "StoreProhibited";
    default: return "other";
    }
}

void upd_lx106_fault(uint32_t vector, uint32_t cause, uint32_t pc, uint32_t vaddr, uint32_t sp,
                     uint32_t ps)
{
    static const char *const vector_name[] = {"user exception", "kernel exception",
                                              "debug exception", "double exception", "NMI"};
    static volatile int entered;
    if (entered++)
        upd_lx106_simcall(UPD_SEMIHOST_EXIT, UPD_LX106_EXIT_NESTED, 0, 0);
    out_flush();

    say("\n*** lx106 FAULT: ");
    say(vector < 5 ? vector_name[vector] : "unknown vector");
    if (vector == 2) {
        say(", DEBUGCAUSE ");
        say_hex(cause);
        say(cause & 0x18 ? " (break instruction / trap)" : "");
    } else if (vector != 4) {
        say(", EXCCAUSE ");
        say_dec(cause);
        say(" ");
        say(cause_name(cause));
    }
    say("\n***   pc ");
    say_hex(pc);
    if (vector < 2 || vector == 3) {
        say("  vaddr ");
        say_hex(vaddr);
    }
    say("  sp ");
    say_hex(sp);
    say("  ps ");
    say_hex(ps);
    say("\n");
    uint32_t bottom = (uint32_t)(uintptr_t)__upd_stack_bottom;
    uint32_t top = (uint32_t)(uintptr_t)__upd_stack_top;
    if ((sp != 0 && sp < bottom + 64) || (vector != 2 && vector != 4 && vaddr < bottom && vaddr + 4096 >= bottom)) {
        say("***   STACK OVERFLOW: the stack is ");
        say_dec(top - bottom);
        say(" bytes (");
        say_hex(bottom);
        say("..");
        say_hex(top);
        say("); keep big buffers static, not local\n");
    }

    int status;
    if (vector == 2)
        status = UPD_LX106_EXIT_DEBUG;
    else if (vector == 4)
        status = UPD_LX106_EXIT_NMI;
    else
        status = 64 + (int)(cause & 63);
    upd_lx106_simcall(UPD_SEMIHOST_EXIT, status, 0, 0);
    for (;;) {
    }
}
