/* The posix port (ports/posix/upd_posix.h): NOR flash semantics of the file-backed
 * flash, persistence of flash and state files (boot, resume, outcome report), the GnuTLS hashes against known vectors,
 * the clock, and the transport's errors and timeouts on 127.0.0.1. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "upd_posix.h"

static int failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                                 \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static char dir[] = "/tmp/updraft-posix-test-XXXXXX";

static void test_flash(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/flash.bin", dir);
    upd_posix_flash f;
    CHECK(upd_posix_flash_open(&f, path, 3000) == -1); /* not a sector multiple */
    CHECK(strstr(f.error, "4096") != NULL);
    CHECK(upd_posix_flash_open(&f, path, 16384) == 0);
    static uint32_t wbuf[256];
    uint8_t *w = (uint8_t *)wbuf, r[1024];
    /* a new chip is erased */
    CHECK(upd_posix_flash_read(&f, 0, r, sizeof r) == 0);
    int all_ff = 1;
    for (size_t i = 0; i < sizeof r; i++)
        all_ff &= r[i] == 0xFF;
    CHECK(all_ff);
    /* a write only clears bits */
    memset(w, 0x0F, 8);
    CHECK(upd_posix_flash_write(&f, 4096, w, 8) == 0);
    memset(w, 0xF3, 8);
    CHECK(upd_posix_flash_write(&f, 4096, w, 8) == 0);
    CHECK(upd_posix_flash_read(&f, 4096, r, 8) == 0);
    CHECK(r[0] == 0x03 && r[7] == 0x03);
    CHECK(f.nor_violations == 8); /* 0xF3 over 0x0F tries to set bits 4..7 */
    /* unaligned read is fine; unaligned write and out of range are refused */
    CHECK(upd_posix_flash_read(&f, 4097, r, 3) == 0 && r[0] == 0x03);
    CHECK(upd_posix_flash_write(&f, 4098, w, 4) < 0);
    CHECK(upd_posix_flash_write(&f, 4096, w, 6) < 0);
    CHECK(upd_posix_flash_write(&f, 16384, w, 4) < 0);
    CHECK(upd_posix_flash_erase(&f, 100) < 0);
    CHECK(upd_posix_flash_erase(&f, 16384) < 0);
    CHECK(f.misuse == 5);
    /* erase sets the sector to 0xFF, and only that sector */
    CHECK(upd_posix_flash_write(&f, 8192, w, 4) == 0);
    CHECK(upd_posix_flash_erase(&f, 4096) == 0);
    CHECK(upd_posix_flash_read(&f, 4096, r, 8) == 0 && r[0] == 0xFF && r[7] == 0xFF);
    CHECK(upd_posix_flash_read(&f, 8192, r, 4) == 0 && r[0] == 0xF3);
    /* injected failures */
    f.fail_erase_at = (int32_t)f.erases;
    CHECK(upd_posix_flash_erase(&f, 0) < 0);
    CHECK(upd_posix_flash_erase(&f, 0) == 0);
    upd_posix_flash_close(&f);
    /* contents survive a reopen; a bigger chip grows erased */
    CHECK(upd_posix_flash_open(&f, path, 20480) == 0);
    CHECK(upd_posix_flash_read(&f, 8192, r, 4) == 0 && r[0] == 0xF3);
    CHECK(upd_posix_flash_read(&f, 16384, r, 4) == 0 && r[0] == 0xFF);
    upd_posix_flash_close(&f);
    /* anonymous flash */
    CHECK(upd_posix_flash_open(&f, NULL, 4096) == 0);
    CHECK(upd_posix_flash_read(&f, 0, r, 4) == 0 && r[3] == 0xFF);
    upd_posix_flash_close(&f);
}

static void test_state(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/state.bin", dir);
    upd_posix_state s;
    uint8_t cmd[128], back[128];
    for (int i = 0; i < 128; i++)
        cmd[i] = (uint8_t)i;
    CHECK(upd_posix_state_open(&s, path) == 0);
    CHECK(upd_posix_state_read(&s, UPD_STATE_BOOT, back, 128) == 0 && back[5] == 0);
    CHECK(upd_posix_state_write(&s, UPD_STATE_BOOT, cmd, 128) == 0);
    CHECK(upd_posix_state_write(&s, UPD_STATE_RESUME, cmd + 1, 64) == 0);
    CHECK(upd_posix_state_write(&s, 7, cmd, 4) < 0);
    CHECK(upd_posix_state_write(&s, UPD_STATE_BOOT, cmd, 129) < 0);
    CHECK(upd_posix_state_activate(&s, 0x150000, 12345) == 0);
    upd_posix_state_close(&s);
    CHECK(upd_posix_state_open(&s, path) == 0);
    CHECK(upd_posix_state_read(&s, UPD_STATE_BOOT, back, 128) == 0 && !memcmp(back, cmd, 128));
    CHECK(upd_posix_state_read(&s, UPD_STATE_RESUME, back, 64) == 0 && !memcmp(back, cmd + 1, 64));
    CHECK(s.mem[256] == 0x00 && s.mem[258] == 0x15 && s.mem[260] == (12345 & 0xFF));
    upd_posix_state_close(&s);
}

/* The outcome-report area (UPD_STATE_REPORT, 96 bytes): kept in the state file after the
 * activation record, survives a reopen, and an older 264-byte file (before the area
 * existed) is extended with zeros, which the engine reads as "nothing to report". */
static void test_state_report(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/state-report.bin", dir);
    uint8_t rep[UPD_STATE_REPORT_SIZE], back[UPD_STATE_REPORT_SIZE], old[264];
    for (size_t i = 0; i < sizeof rep; i++)
        rep[i] = (uint8_t)(0xA0 ^ i);
    for (size_t i = 0; i < sizeof old; i++)
        old[i] = (uint8_t)(i * 7);
    FILE *f = fopen(path, "wb"); /* a state file written before the report area */
    CHECK(f && fwrite(old, 1, sizeof old, f) == sizeof old);
    if (f)
        fclose(f);
    upd_posix_state s;
    CHECK(upd_posix_state_open(&s, path) == 0);
    CHECK(upd_posix_state_read(&s, UPD_STATE_BOOT, back, 96) == 0 && !memcmp(back, old, 96));
    memset(back, 0x55, sizeof back);
    CHECK(upd_posix_state_read(&s, UPD_STATE_REPORT, back, sizeof back) == 0);
    int zero = 1;
    for (size_t i = 0; i < sizeof back; i++)
        zero &= back[i] == 0;
    CHECK(zero);
    CHECK(upd_posix_state_write(&s, UPD_STATE_REPORT, rep, sizeof rep) == 0);
    CHECK(upd_posix_state_write(&s, UPD_STATE_REPORT, rep, sizeof rep + 1) < 0);
    CHECK(upd_posix_state_read(&s, UPD_STATE_REPORT, back, sizeof back + 1) < 0);
    CHECK(s.report_writes == 1 && s.boot_writes == 0 && s.resume_writes == 0);
    /* the other areas are untouched */
    CHECK(!memcmp(s.mem, old, sizeof old));
    upd_posix_state_close(&s);
    FILE *g = fopen(path, "rb");
    uint8_t file[UPD_POSIX_STATE_FILE_SIZE + 1];
    size_t n = g ? fread(file, 1, sizeof file, g) : 0;
    if (g)
        fclose(g);
    CHECK(n == UPD_POSIX_STATE_FILE_SIZE && UPD_POSIX_STATE_FILE_SIZE == 360);
    CHECK(!memcmp(file + UPD_POSIX_STATE_REPORT_OFF, rep, sizeof rep));
    CHECK(upd_posix_state_open(&s, path) == 0);
    CHECK(upd_posix_state_read(&s, UPD_STATE_REPORT, back, sizeof back) == 0 &&
          !memcmp(back, rep, sizeof rep));
    upd_posix_state_close(&s);
    /* in memory only (no file) it works the same */
    CHECK(upd_posix_state_open(&s, NULL) == 0);
    CHECK(upd_posix_state_write(&s, UPD_STATE_REPORT, rep, sizeof rep) == 0);
    CHECK(upd_posix_state_read(&s, UPD_STATE_REPORT, back, 10) == 0 && !memcmp(back, rep, 10));
    upd_posix_state_close(&s);
}

static void hex(const uint8_t *p, int n, char *out)
{
    for (int i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static void test_hashes_and_clock(void)
{
    upd_posix_hash h = {0};
    uint8_t out[32];
    char x[65];
    upd_posix_md5_init(&h);
    upd_posix_hash_update(&h, "a", 1);
    upd_posix_hash_update(&h, "bc", 2);
    upd_posix_hash_final(&h, out);
    hex(out, 16, x);
    CHECK(!strcmp(x, "900150983cd24fb0d6963f7d28e17f72"));
    upd_posix_sha256_init(&h);
    upd_posix_sha256_init(&h); /* starting over drops the running hash */
    upd_posix_hash_update(&h, "abc", 3);
    upd_posix_hash_final(&h, out);
    hex(out, 32, x);
    CHECK(!strcmp(x, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    upd_posix_hash_free(&h);
    uint32_t t0 = upd_posix_now_ms(NULL);
    usleep(20000);
    uint32_t dt = upd_posix_now_ms(NULL) - t0;
    CHECK(dt >= 19 && dt < 2000);
}

static void test_net(void)
{
    upd_posix_net n;
    upd_posix_net_init(&n);
    /* a listening socket on an ephemeral port */
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    CHECK(bind(ls, (struct sockaddr *)&a, sizeof a) == 0 && listen(ls, 4) == 0);
    CHECK(getsockname(ls, (struct sockaddr *)&a, &al) == 0);
    uint16_t port = ntohs(a.sin_port);
    CHECK(upd_posix_net_connect(&n, "127.0.0.1", port, 0, 2000) == 0);
    int cs = accept(ls, NULL, NULL);
    CHECK(upd_posix_net_send(&n, "ping", 4, 1000) == 4);
    char buf[16];
    CHECK(recv(cs, buf, sizeof buf, 0) == 4 && !memcmp(buf, "ping", 4));
    /* nothing to read: a timeout, not an error */
    uint32_t t0 = upd_posix_now_ms(NULL);
    CHECK(upd_posix_net_recv(&n, buf, sizeof buf, 150) == UPD_PORT_ETIMEOUT);
    CHECK(upd_posix_now_ms(NULL) - t0 >= 140);
    CHECK(send(cs, "pong", 4, 0) == 4);
    CHECK(upd_posix_net_recv(&n, buf, sizeof buf, 1000) == 4);
    close(cs); /* the peer's clean close */
    CHECK(upd_posix_net_recv(&n, buf, sizeof buf, 1000) == 0 && n.closed_by_peer);
    upd_posix_net_close(&n);
    close(ls);
    /* nobody listens there any more */
    CHECK(upd_posix_net_connect(&n, "127.0.0.1", port, 0, 2000) == UPD_PORT_ECONNECT);
    CHECK(strstr(n.error, "refused") != NULL);
    /* a name that cannot resolve */
    CHECK(upd_posix_net_connect(&n, "no-such-host.invalid", 80, 0, 2000) == UPD_PORT_ECONNECT);
    CHECK(strstr(n.error, "resolve") != NULL);
    upd_posix_net_free(&n);
}

static void test_port(void)
{
    upd_posix_port p;
    char err[256];
    upd_flash_layout l = {.chip_size = 1u << 20, .sketch_size = 300000, .fs_start = 0xEB000,
                          .fs_end = 0xFB000, .flash_mode = 2};
    CHECK(upd_posix_port_open(&p, NULL, NULL, &l, err, sizeof err) == 0);
    CHECK(p.port.flash.layout.fs_start == 0xEB000 && p.flash.size == 1u << 20);
    CHECK(p.port.crypto.md5.init && p.port.crypto.sha256.final && p.port.crypto.verify == NULL);
    CHECK(p.port.transport.connect == upd_posix_net_connect && p.port.state.activate);
    upd_posix_port_close(&p);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_flash();
    test_state();
    test_state_report();
    test_hashes_and_clock();
    test_net();
    test_port();
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        failures++;
    printf("%s: %d failure%s\n", failures ? "FAIL" : "ok", failures, failures == 1 ? "" : "s");
    return failures ? 1 : 0;
}
