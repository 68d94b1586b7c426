// Test fixture for the updraft Arduino library on the core's host emulation
// (../shared/realclient): what that emulation leaves out and a device has, so that a
// sketch can run, "reboot" and run again as on a board. Linked into every sketch of
// tests/arduino/build-sketches.sh (a library folder of RC_ULIBDIRS; the sketches are
// linked with the --wrap options named below). Not part of the library.
//
//   RTC user memory  ESP.rtcUserMemoryRead/Write (the mock has none): 512 bytes from
//                    0x60001100, kept in the file UPD_RTC_FILE across runs (a reset
//                    keeps RTC memory; a power cut does not: see UPD_CUT_AT)
//   eboot command    eboot_command_write (the mock's is a no-op; --wrap) and
//                    eboot_command_clear store and clear the command at 0x60001200
//                    (word 64 of the user memory) with magic and CRC, as the core does
//   flash            the mock's RAM flash is loaded from UPD_FLASH_FILE at start and
//                    saved there at exit (ESP.restart() exits: a reboot)
//   power cut        UPD_CUT_AT=erase:N or write:N: the Nth ESP.flashEraseSector or
//                    ESP.flashWrite (--wrap) does not happen; the flash is saved as it is,
//                    the RTC file removed (RTC memory does not survive a power loss), and
//                    the process ends at once with exit status 3 after "POWERCUT ..."
//   trace            UPD_FLASH_TRACE: a file listing every erase and write (the test picks
//                    its cut points by phase from it)
#include <Arduino.h>
#include <eboot_command.h>
#include <realclient_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern "C" uint32_t upd_crc32_mpeg2(uint32_t crc, const void *data, size_t len);

static uint32_t rtc[128]; // 0x60001100 .. 0x600012FF
static bool loaded;
static long cut_erase = -1, cut_write = -1, n_erase, n_write;

static void save_flash()
{
    const char *f = getenv("UPD_FLASH_FILE");
    if (!f || !*f)
        return;
    FILE *fp = fopen(f, "wb");
    if (!fp || fwrite(mock_flash(), 1, mock_flash_limit(), fp) != mock_flash_limit())
        fprintf(stderr, "emu: cannot write %s\n", f);
    if (fp)
        fclose(fp);
}

static void save_rtc()
{
    const char *f = getenv("UPD_RTC_FILE");
    if (!f || !*f)
        return;
    FILE *fp = fopen(f, "wb");
    if (!fp || fwrite(rtc, 1, sizeof rtc, fp) != sizeof rtc)
        fprintf(stderr, "emu: cannot write %s\n", f);
    if (fp)
        fclose(fp);
}

static void at_exit()
{
    char line[80];
    int len = snprintf(line, sizeof line, "FLASHOPS erase=%ld write=%ld\n", n_erase, n_write);
    fflush(stdout);
    ssize_t w = write(1, line, (size_t)len);
    (void)w;
    save_flash();
    save_rtc();
}

static void load()
{
    if (loaded)
        return;
    loaded = true;
    const char *f = getenv("UPD_FLASH_FILE");
    if (f && *f) {
        FILE *fp = fopen(f, "rb");
        if (fp) {
            size_t n = fread(mock_flash(), 1, mock_flash_limit(), fp);
            (void)n;
            fclose(fp);
        }
    }
    memset(rtc, 0, sizeof rtc); // a power-on: RTC memory holds garbage; zeros here
    const char *r = getenv("UPD_RTC_FILE");
    if (r && *r) {
        FILE *fp = fopen(r, "rb");
        if (fp) {
            size_t n = fread(rtc, 1, sizeof rtc, fp);
            (void)n;
            fclose(fp);
        }
    }
    const char *c = getenv("UPD_CUT_AT");
    if (c && !strncmp(c, "erase:", 6))
        cut_erase = atol(c + 6);
    else if (c && !strncmp(c, "write:", 6))
        cut_write = atol(c + 6);
    atexit(at_exit);
}

// Runs before setup(): the flash and RTC memory are there when the sketch starts.
static struct Loader {
    Loader()
    {
        load();
    }
} loader;

static void power_cut(const char *what, long n)
{
    save_flash();
    const char *r = getenv("UPD_RTC_FILE");
    if (r && *r)
        unlink(r);
    char line[80];
    int len = snprintf(line, sizeof line, "POWERCUT %s %ld\n", what, n);
    fflush(stdout);
    ssize_t w = write(1, line, (size_t)len);
    (void)w;
    _exit(3);
}

bool EspClass::rtcUserMemoryRead(uint32_t offset, uint32_t *data, size_t size)
{
    if (offset * 4 + size > sizeof rtc || size % 4)
        return false;
    memcpy(data, (uint8_t *)rtc + offset * 4, size);
    return true;
}

bool EspClass::rtcUserMemoryWrite(uint32_t offset, uint32_t *data, size_t size)
{
    if (offset * 4 + size > sizeof rtc || size % 4)
        return false;
    memcpy((uint8_t *)rtc + offset * 4, data, size);
    return true;
}

extern "C" void __wrap_eboot_command_write(struct eboot_command *cmd)
{
    cmd->magic = EBOOT_MAGIC;
    cmd->crc32 = upd_crc32_mpeg2(0xFFFFFFFFu, cmd, offsetof(struct eboot_command, crc32));
    memcpy(&rtc[64], cmd, sizeof *cmd);
}

extern "C" void eboot_command_clear()
{
    rtc[64 + offsetof(struct eboot_command, magic) / 4] = 0;
    rtc[64 + offsetof(struct eboot_command, crc32) / 4] = 0;
}

// EspClass::flashEraseSector(uint32_t) and EspClass::flashWrite(uint32_t, const
// uint32_t*, size_t): static members, so plain functions underneath.
extern "C" bool __real__ZN8EspClass16flashEraseSectorEj(uint32_t sector);
extern "C" bool __real__ZN8EspClass10flashWriteEjPKjm(uint32_t addr, const uint32_t *data,
                                                      size_t size);

// UPD_FLASH_TRACE: one line per erase ("E <n> <addr>") and write ("W <n> <addr> <len>")
static void trace(char op, long n, uint32_t addr, size_t len)
{
    static FILE *fp;
    const char *f = getenv("UPD_FLASH_TRACE");
    if (!f || !*f)
        return;
    if (!fp && !(fp = fopen(f, "w")))
        return;
    fprintf(fp, "%c %ld 0x%x %zu\n", op, n, (unsigned)addr, len);
    fflush(fp);
}

extern "C" bool __wrap__ZN8EspClass16flashEraseSectorEj(uint32_t sector)
{
    trace('E', n_erase + 1, sector * 4096u, 4096);
    if (++n_erase == cut_erase)
        power_cut("erase", n_erase);
    return __real__ZN8EspClass16flashEraseSectorEj(sector);
}

extern "C" bool __wrap__ZN8EspClass10flashWriteEjPKjm(uint32_t addr, const uint32_t *data,
                                                      size_t size)
{
    trace('W', n_write + 1, addr, size);
    if (++n_write == cut_write)
        power_cut("write", n_write);
    return __real__ZN8EspClass10flashWriteEjPKjm(addr, data, size);
}

extern "C" const char *updraft_test_file(const char *var)
{
    const char *f = getenv(var);
    if (!f || !*f)
        return "";
    FILE *fp = fopen(f, "rb");
    if (!fp)
        return "";
    static char buf[8][8192];
    static int used;
    char *b = buf[used++ % 8];
    size_t n = fread(b, 1, sizeof buf[0] - 1, fp);
    b[n] = 0;
    fclose(fp);
    return b;
}
