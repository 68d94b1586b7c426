/* The device crypto library (updraft/rsa.h, updraft/sha256.h) on test vectors made at
 * test time by the real `updraft keygen` and `updraft sign` (tests/crypto/vectors.py
 * writes them and the expected outcome of each into cases.txt in the working folder).
 * The same program runs on the host and on the ESP8266's CPU under QEMU, where it reads
 * the files through semihosting as a device reads its flash: in pieces, never the whole
 * image in RAM.
 *
 * Each line of cases.txt: NAME FILE PUBKEY EXPECT ENGINE
 *   EXPECT  ok, or the updraft error the check must give (UPD_ESIGNATURE, UPD_ESIGLEN
 *           for a trailer that is not the key's length, UPD_EKEY for a key it refuses)
 *   ENGINE  1: also run the file through the device engine (UPD_CLIENT_WITH_SIGN) with
 *           this verifier and SHA-256 in its port: ok installs only the payload, anything
 *           else fails with Updater error 12 and no boot command; 0: the check alone
 * For each case it prints the time the check took (lx106: CCOUNT cycles, host: ns) and,
 * on lx106, the stack the key set-up and the verification used. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sigdev.h"
#include "updraft/error.h"
#include "updraft/rsa.h"
#include "updraft/sha256.h"

#ifdef __XTENSA__
#include "lx106_rt.h"

/* QEMU's Xtensa semihosting (target/xtensa/xtensa-semi.c): host open/read/lseek. */
static int f_open(const char *path)
{
    return upd_lx106_simcall(UPD_SEMIHOST_OPEN, (int)(uintptr_t)path, 0 /* O_RDONLY */, 0);
}
static int f_read(int fd, void *buf, uint32_t n)
{
    return upd_lx106_simcall(UPD_SEMIHOST_READ, fd, (int)(uintptr_t)buf, (int)n);
}
static long f_seek(int fd, long off, int whence)
{
    return upd_lx106_simcall(UPD_SEMIHOST_LSEEK, fd, (int)off, whence);
}
static void f_close(int fd)
{
    upd_lx106_simcall(UPD_SEMIHOST_CLOSE, fd, 0, 0);
}
/* The CPU's cycle counter. QEMU is not cycle-accurate: with -icount it advances CCOUNT
 * by a fixed amount per instruction executed (tests/lx106/host.cmake runs this test with
 * -icount shift=4), which calibrate() measures, so the counts printed are instructions. */
static uint32_t now_ticks(void)
{
    uint32_t c;
    __asm__ volatile("rsr.ccount %0" : "=a"(c));
    return c;
}
#define TICKS     "insns"
#define CAL_INSNS 200000u
static uint32_t cal_ticks;
/* CCOUNT ticks for CAL_INSNS instructions: a loop of two instructions. */
static void calibrate(void)
{
    uint32_t n = CAL_INSNS / 2, t0 = now_ticks();
    __asm__ volatile("1: addi %0, %0, -1\n\tbnez %0, 1b" : "+a"(n));
    cal_ticks = now_ticks() - t0;
    printf("lx106 CCOUNT: %lu ticks for %lu instructions\n", (unsigned long)cal_ticks,
           (unsigned long)CAL_INSNS);
}
static uint32_t insns(uint32_t ticks)
{
    return cal_ticks ? (uint32_t)((uint64_t)ticks * CAL_INSNS / cal_ticks) : ticks;
}

/* Stack probe: paint the free stack below the caller's frame with the runtime's own
 * pattern (runtime.c), then find how deep the paint was overwritten. */
extern char __upd_stack_bottom[];
#define PAINT 0x57ac57acu
static uint32_t *probe_top;
#define stack_paint()                                                                              \
    do {                                                                                           \
        uint32_t *p_ = (uint32_t *)(void *)__upd_stack_bottom;                                     \
        probe_top = (uint32_t *)__builtin_frame_address(0) - 4;                                    \
        while (p_ < probe_top)                                                                     \
            *p_++ = PAINT;                                                                         \
    } while (0)
static uint32_t stack_used(void)
{
    const uint32_t *p = (const uint32_t *)(void *)__upd_stack_bottom;
    while (p < probe_top && *p == PAINT)
        p++;
    return (uint32_t)((const char *)probe_top - (const char *)p);
}
#else
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
static int f_open(const char *path)
{
    return open(path, O_RDONLY);
}
static int f_read(int fd, void *buf, uint32_t n)
{
    return (int)read(fd, buf, n);
}
static long f_seek(int fd, long off, int whence)
{
    return (long)lseek(fd, off, whence);
}
static void f_close(int fd)
{
    close(fd);
}
static uint32_t now_ticks(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}
#define TICKS "ns"
static void calibrate(void) {}
static uint32_t insns(uint32_t ticks)
{
    return ticks;
}
static void stack_paint(void) {}
static uint32_t stack_used(void)
{
    return 0;
}
#endif

static upd_rsa_verifier ver; /* the device's key and work area: static, as on a device */
static upd_sha256 sha;
static char text[4096]; /* cases.txt, then a key file */
static uint8_t chunk[4096];
static char lines[4096];

/* Read a whole small file into buf (cap - 1 bytes at most, NUL-terminated). */
static long slurp(const char *path, char *buf, size_t cap)
{
    int fd = f_open(path);
    if (fd < 0)
        return -1;
    long n = 0;
    int r;
    while ((size_t)n < cap - 1 && (r = f_read(fd, buf + n, (uint32_t)(cap - 1 - (size_t)n))) > 0)
        n += r;
    f_close(fd);
    buf[n] = 0;
    return n;
}

static uint32_t ticks_key, ticks_sha, ticks_rsa, stack_key, stack_sha, stack_rsa;

/* The check the core's Updater makes with a verifier, on a file read in 4 KB pieces: the
 * trailer's length must be the key's and leave a payload; the payload's SHA-256, then
 * the signature verified. 0 or an updraft error. */
static int check_file(const char *path, long *size)
{
    int fd = f_open(path);
    if (fd < 0)
        return UPD_EIO;
    long total = f_seek(fd, 0, 2 /* SEEK_END */);
    *size = total;
    int e = UPD_EIO;
    if (total < 4 || f_seek(fd, total - 4, 0) != total - 4 || f_read(fd, chunk, 4) != 4)
        goto out;
    uint32_t sl = sd_le32(chunk);
    e = UPD_ESIGLEN;
    if (sl != ver.key.nbytes || sl >= (uint32_t)total - 4)
        goto out;
    uint32_t plen = (uint32_t)total - 4 - sl;
    e = UPD_EIO;
    if (f_seek(fd, 0, 0) != 0)
        goto out;
    stack_paint();
    uint32_t t0 = now_ticks();
    upd_sha256_init(&sha);
    for (uint32_t done = 0; done < plen;) {
        uint32_t n = plen - done < sizeof chunk ? plen - done : (uint32_t)sizeof chunk;
        if (f_read(fd, chunk, n) != (int)n)
            goto out;
        upd_sha256_update(&sha, chunk, n);
        done += n;
    }
    uint8_t digest[32];
    upd_sha256_final(&sha, digest);
    ticks_sha = insns(now_ticks() - t0);
    stack_sha = stack_used();
    if (f_read(fd, chunk, sl) != (int)sl)
        goto out;
    stack_paint();
    t0 = now_ticks();
    e = upd_rsa_port_verify(&ver, digest, chunk, sl);
    ticks_rsa = insns(now_ticks() - t0);
    stack_rsa = stack_used();
out:
    f_close(fd);
    return e;
}

/* ---- the engine: one check against a 200 carrying the file (tests/client/sigdev.h) -- */

static int engine(const char *path, int good)
{
    int fd = f_open(path);
    if (fd < 0)
        return -1;
    long n = f_seek(fd, 0, 2 /* SEEK_END */);
    if (n <= 4 || (size_t)n > sizeof sd_file || f_seek(fd, 0, 0) != 0 ||
        f_read(fd, sd_file, (uint32_t)n) != (int)n) {
        f_close(fd);
        return -1; /* unreadable, or too big for this test's flash */
    }
    f_close(fd);
    uint32_t len = (uint32_t)n;
    sd_port(&sd_layout, SD_BASE);
    upd_sha256_ops_init(&sd_mp.port.crypto.sha256, &sha); /* the device's own SHA-256 */
    upd_rsa_port_init(&sd_mp.port.crypto, &ver);
    sd_respond(len, len, "x-MD5: 0123456789abcdef0123456789abcdef\r\n");
    upd_client_result r = sd_run(UPD_CLIENT_ESP8266_ARDUINO);
    if (good) /* eboot copies the payload only, from where it was staged */
        sd_check_installed(r, len, len - 4 - sd_le32(sd_file + len - 4));
    else
        sd_check_refused(r);
    return 0;
}

/* ---- the cases ------------------------------------------------------------------ */

static int cases, engine_cases;

static void run_case(const char *name, const char *file, const char *keyfile, const char *expect,
                     int with_engine)
{
    long kl = slurp(keyfile, text, sizeof text);
    CHECK(kl > 0);
    stack_paint();
    uint32_t t0 = now_ticks();
    int ke = upd_rsa_key_from_pem(&ver.key, text, (size_t)kl, &ver.work);
    ticks_key = insns(now_ticks() - t0);
    stack_key = stack_used();
    if (ke != 0) {
        printf("%-34s key %s: %s\n", name, keyfile, upd_err_name(ke));
        CHECK_STR(upd_err_name(ke), expect);
        cases++;
        return;
    }
    long size = 0;
    ticks_sha = ticks_rsa = stack_sha = stack_rsa = 0;
    int e = check_file(file, &size);
    const char *got = e == 0 ? "ok" : upd_err_name(e);
    printf("%-30s RSA-%u %7ld bytes: %-14s key %8lu, sha256 %9lu, rsa %8lu %s", name,
           (unsigned)ver.key.bits, size, got, (unsigned long)ticks_key, (unsigned long)ticks_sha,
           (unsigned long)ticks_rsa, TICKS);
#ifdef __XTENSA__
    printf(", stack: key %lu, sha256 %lu, verify %lu", (unsigned long)stack_key,
           (unsigned long)stack_sha, (unsigned long)stack_rsa);
#endif
    printf("\n");
    if (strcmp(got, expect) != 0)
        printf("  FAIL: %s: expected %s, got %s\n", name, expect, got);
    CHECK_STR(got, expect);
    cases++;
    if (with_engine) {
        CHECK_INT(engine(file, !strcmp(expect, "ok")), ==, 0);
        engine_cases++;
    }
}

static void test_vectors(void)
{
    long n = slurp("cases.txt", lines, sizeof lines);
    if (n <= 0) {
        printf("cannot read cases.txt in the working folder: run tests/crypto/vectors.py\n");
        CHECK(n > 0);
        return;
    }
    for (char *p = lines; *p;) {
        char *eol = strchr(p, '\n');
        if (eol)
            *eol = 0;
        if (*p && *p != '#') {
            /* five fields separated by spaces (no scanf: picolibc's pulls in floating point) */
            char *f[5];
            int nf = 0;
            for (char *q = p; *q && nf < 5;) {
                while (*q == ' ')
                    *q++ = 0;
                if (!*q)
                    break;
                f[nf++] = q;
                while (*q && *q != ' ')
                    q++;
            }
            CHECK_INT(nf, ==, 5);
            if (nf == 5)
                run_case(f[0], f[1], f[2], f[3], f[4][0] == '1');
        }
        if (!eol)
            break;
        p = eol + 1;
    }
    printf("%d cases, %d through the engine\n", cases, engine_cases);
    CHECK(cases >= 10);
    CHECK(engine_cases >= 3);
}

int main(void)
{
    calibrate();
    RUN(test_vectors);
    return upd_test_summary();
}
