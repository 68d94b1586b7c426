/* Version ordering: the rules of docs/versions.md as ordered and equal pairs (each
 * checked both ways), length-bounded inputs, and properties of a total order
 * (reflexive, antisymmetric, transitive) over deterministic pseudo-random strings. */
#include "updraft/version.h"
#include "upd_test.h"

static int sgn(int v)
{
    return (v > 0) - (v < 0);
}

struct vpair {
    const char *lo, *hi;
};

/* lo orders strictly before hi. */
static const struct vpair ordered[] = {
    /* release numbers */
    {"1.0.0", "1.0.1"},
    {"1.2", "1.10"},
    {"1.9.9", "1.10.0"},
    {"0.9", "1"},
    {"1", "1.0.1"},
    {"1.2.3", "1.2.3.1"},
    {"14.3.0.4", "14.3.0.10"},
    {"14.3.0.4", "14.3.1"},
    {"1.02", "1.3"},
    {"v1.2", "1.3"},
    {"1.2", "V1.3"},
    {" v1.2 ", "1.2.1"},
    /* numbers of any length */
    {"18122801", "18122802"},
    {"18122801", "99999999999999999999"},
    {"99999999999999999999", "100000000000000000000"},
    {"1.99999999999999999999", "2.0"},
    {"1.4294967295", "1.4294967296"},
    {"1.18446744073709551615", "1.18446744073709551616"},
    {"0000000000000000000000009", "10"},
    /* dates and date-times */
    {"2024-03-05", "2024-03-06"},
    {"2024-03-05", "2024-12-01"},
    {"2024-12-31", "2025-01-01"},
    {"2024", "2024-03-05"},
    {"2024-03-05", "2025"},
    {"2025", "20240305"},
    {"2024-03-05", "2024-03-05T12:36"},
    {"2024-03-05T09:00", "2024-03-05T12:36"},
    {"2024-03-05T12:36", "2024-03-05T12:37"},
    {"2024-03-05 12:36:00", "2024-03-05 12:36:01"},
    {"2024-03-05T23:59:59", "2024-03-06T00:00"},
    {"2024-03-05", "2024-03-05.1"},
    {"2024-03-05-rc1", "2024-03-05"},
    {"2024-13-01", "2024"},
    {"20240305-0900", "20240305-1236"},
    {"20240305-1236", "20240305-123601"},
    {"20240305", "20240305-0001"},
    {"20240305-2359", "20240306"},
    {"20240305T1236", "20240305T1237"},
    /* pre-releases: the semver precedence example */
    {"1.0.0-alpha", "1.0.0-alpha.1"},
    {"1.0.0-alpha.1", "1.0.0-alpha.beta"},
    {"1.0.0-alpha.beta", "1.0.0-beta"},
    {"1.0.0-beta", "1.0.0-beta.2"},
    {"1.0.0-beta.2", "1.0.0-beta.11"},
    {"1.0.0-beta.11", "1.0.0-rc.1"},
    {"1.0.0-rc.1", "1.0.0"},
    /* pre-releases: other rules */
    {"1.0.0-rc.1", "1.0.0-rc.2"},
    {"1.2rc1", "1.2"},
    {"1.2rc9", "1.2rc10"},
    {"1.2-beta.2", "1.2-rc1"},
    {"1.0.0-rc1", "1.0.0-rc.2"},
    {"1.0.0-1", "1.0.0-alpha"},
    {"1.0.0-2", "1.0.0-10"},
    {"1.0.0-1a", "1.0.0-2"},
    {"1.0.0-0", "1.0.0"},
    {"1.0.0-rc", "1.0.0-rc1"},
    {"1.0.0-rc1", "1.0.0-rc1a"},
    {"1.0.0-alpha", "1.0.0-BETA"},
    {"1.0.0-rc1", "1.0.1-alpha"},
    {"1.0.0_beta", "1.0.0"},
    {"1.0.0_beta", "1.0.0-rc1"},
    {"1.0.0.beta", "1.0.0"},
    {"1.2.3d", "1.2.3"},
    {"4532e6a", "4533"},
    /* build metadata and other tails: ties only */
    {"1.0.0", "1.0.0+anything"},
    {"1.0.0+b5", "1.0.0+b6"},
    {"1.0.0+b9", "1.0.0+b10"},
    {"1.0.0+b05", "1.0.0+b5"},
    {"1.0.0+B5", "1.0.0+b5"},
    {"1.0.0+zzz", "1.0.1"},
    {"1.0.0-rc1+b9", "1.0.0"},
    {"1.0.0-rc1", "1.0.0-rc1+b1"},
    {"9.5.0", "9.5.0(tasmota)"},
    {"9.5.0(tasmota)", "9.5.1(tasmota)"},
    {"9.5.0(tasmota)", "9.5.1"},
    {"2.2.2-dev(38a443e)", "2.2.2"},
    {"1.2", "1.2 beta"},
    {"1.2", "1.2.0."},
    {"1.2.3", "1.2.3-"},
    /* git describe (ESP-IDF's default PROJECT_VER) */
    {"v5.0", "v5.0-4-g4532e6"},
    {"v5.0-4-g4532e6", "v5.0-10-g1234abc"},
    {"v5.0-10-g1234abc", "v5.0.1"},
    {"v5.0-rc1", "v5.0-rc1-3-gabcdef0"},
    {"v5.0-rc1-3-gabcdef0", "v5.0-rc2"},
    {"v4.4.7", "v4.4.7-dirty"},
    {"v4.4.7-dirty", "v4.4.8"},
    {"4.4.7", "4.4.7-DIRTY"},
    {"4.4.7-DIRTY", "4.4.7-dirty"},
    {"v4.4.7-2-gabcd123", "v4.4.7-2-gabcd123-dirty"},
    {"v4.4.7-2-gabcd123", "v4.4.7-2-gabcd124"},
    {"v5.0-20220830-4-g4532e6", "v5.0"},
    {"1.0-3-gxyz1", "1.0"},
    /* opaque text and the empty string */
    {"", "unknown"},
    {"", "0"},
    {"", "v"},
    {"unknown", "0"},
    {"vx", "0"},
    {"v", "v1"},
    {"abc", "v"},
    {"Unknown", "unknown"},
    {"unknown", "unknownx"},
    {"esp-idf: v4.4.7 38eeba213a", "0.0.1"},
    {"esp-idf: v4.4.7 38eeba213a", "qa-test-v5.0-20220830-4-g4532e6"},
    {"esp-idf: v4.10.0", "esp-idf: v4.4.7"},
    {"-1", ".1"},
    {"v 1.2", "0"},
};

/* The same version written two ways. */
static const struct vpair equal[] = {
    {"v1.2", "1.2"},
    {"1.2", "1.2.0"},
    {"1.2.0.0", "1.2"},
    {"1.02", "1.2"},
    {" 1.2\r\n", "1.2"},
    {"\tV1.2", "v1.2.0"},
    {"000000000000000000001", "1"},
    {"1.0.0-RC1", "1.0.0-rc1"},
    {"1.0.0-rc.1", "1.0.0rc1"},
    {"1.0.0-rc-1", "1.0.0.rc1"},
    {"1.0.0_beta", "1.0.0-beta"},
    {"1.0.0-rc_2", "1.0.0-rc.2"},
    {"1.0.0-x-y", "1.0.0-x.y"},
    {"1.0.0-rc01", "1.0.0-rc1"},
    {"2024-03-05", "2024.3.5"},
    {"2024-03-05T12:36", "2024-03-05 12:36:00"},
    {"2024-03-05T12:36Z", "2024-03-05t12:36"},
    {"2024-03-05_12:36", "2024.3.5.12.36"},
    {"20240305-1236", "20240305T123600"},
    {"20240305", "20240305-0000"},
    {"1.0.0+b5", "v1.0.0+b5"},
    {"1.0+b5", "1.0.0+b5"},
    {"v5.0-4-g4532e6", "5.0.0-4-g4532e6"},
    {"9.5.0(tasmota)", "9.5(tasmota)"},
    {"", "   "},
    {"unknown", " unknown\t"},
};

static void test_ordered_pairs(void)
{
    size_t n = sizeof ordered / sizeof ordered[0];
    CHECK_INT(n, >=, 60);
    for (size_t i = 0; i < n; i++) {
        int c1 = upd_version_cmp(ordered[i].lo, ordered[i].hi);
        int c2 = upd_version_cmp(ordered[i].hi, ordered[i].lo);
        if (c1 >= 0 || c2 <= 0)
            printf("  row %u: \"%s\" < \"%s\": got %d and %d\n", (unsigned)i, ordered[i].lo,
                   ordered[i].hi, c1, c2);
        CHECK_INT(c1, <, 0);
        CHECK_INT(c2, >, 0);
    }
}

static void test_equal_pairs(void)
{
    size_t n = sizeof equal / sizeof equal[0];
    for (size_t i = 0; i < n; i++) {
        int c1 = upd_version_cmp(equal[i].lo, equal[i].hi);
        int c2 = upd_version_cmp(equal[i].hi, equal[i].lo);
        if (c1 != 0 || c2 != 0)
            printf("  row %u: \"%s\" == \"%s\": got %d and %d\n", (unsigned)i, equal[i].lo,
                   equal[i].hi, c1, c2);
        CHECK_INT(c1, ==, 0);
        CHECK_INT(c2, ==, 0);
    }
    CHECK_INT(upd_version_cmp(NULL, ""), ==, 0);
    CHECK_INT(upd_version_cmp(NULL, NULL), ==, 0);
    CHECK_INT(upd_version_cmp(NULL, "0"), <, 0);
    CHECK_INT(upd_version_cmp("unknown", NULL), >, 0);
}

static void test_is_structured(void)
{
    static const char *const yes[] = {
        "1", "v1", " V2.0 ", "2024-03-05", "0", "9.5.0(tasmota)", "1.0.0-rc1", "4532e6a", "\t007"};
    static const char *const no[] = {"",
                                     "   ",
                                     "v",
                                     "vv1",
                                     "unknown",
                                     "-1",
                                     ".1",
                                     "v 1",
                                     "esp-idf: v4.4.7 38eeba213a",
                                     "qa-test-v5.0-20220830-4-g4532e6",
                                     "V",
                                     "x1"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        CHECK_INT(upd_version_is_structured(yes[i], strlen(yes[i])), ==, 1);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        CHECK_INT(upd_version_is_structured(no[i], strlen(no[i])), ==, 0);
    CHECK_INT(upd_version_is_structured(NULL, 0), ==, 0);
    CHECK_INT(upd_version_is_structured("1.2", 0), ==, 0);
    CHECK_INT(upd_version_is_structured("v1", 1), ==, 0);
    CHECK_INT(upd_version_is_structured("\0"
                                        "1",
                                        2),
              ==, 0);
}

/* Exactly sized arrays with no NUL: reading past them would be caught by ASan. */
static const char nt_123[5] = "1.2.3";
static const char nt_v12[3] = "v12";
static const char nt_date[10] = "2024-03-05";
static const char nt_stamp[13] = "20240305-1236";
static const char nt_git[14] = "5.0-4-g4532e6";
static const char nt_dirty[11] = "4.4.7-dirty";

static void test_length_bounded(void)
{
    CHECK_INT(upd_version_cmpn(nt_123, sizeof nt_123, "1.2.3", 5), ==, 0);
    CHECK_INT(upd_version_cmpn(nt_123, sizeof nt_123, "1.2.4", 5), <, 0);
    CHECK_INT(upd_version_cmpn(nt_123, 3, "1.2", 3), ==, 0);
    CHECK_INT(upd_version_cmpn(nt_v12, sizeof nt_v12, "12.0", 4), ==, 0);
    CHECK_INT(upd_version_cmpn(nt_v12, 2, "1", 1), ==, 0);
    CHECK_INT(upd_version_cmpn(nt_v12, 1, "v", 1), ==, 0);
    CHECK_INT(upd_version_cmpn(nt_date, sizeof nt_date, "2024.3.5", 8), ==, 0);
    CHECK_INT(upd_version_cmpn(nt_date, 9, "2024-03-0", 9), ==, 0);
    CHECK_INT(upd_version_cmpn(nt_date, 9, "2024", 4), <, 0); /* "2024-03-0": a pre-release */
    CHECK_INT(upd_version_cmpn(nt_stamp, sizeof nt_stamp, "20240305-123600", 15), ==, 0);
    CHECK_INT(upd_version_cmpn(nt_stamp, 12, "20240305", 8), <, 0); /* "-123": pre-release */
    CHECK_INT(upd_version_cmpn(nt_git, sizeof nt_git, "5.0", 3), >, 0);
    CHECK_INT(upd_version_cmpn(nt_git, 12, "5.0-4-g4532e", 12), ==, 0);
    CHECK_INT(upd_version_cmpn(nt_git, 9, "5.0", 3), <, 0); /* "-g45": too short, pre-release */
    CHECK_INT(upd_version_cmpn(nt_dirty, sizeof nt_dirty, "4.4.7", 5), >, 0);
    CHECK_INT(upd_version_cmpn(nt_dirty, 10, "4.4.7", 5), <, 0); /* "-dirt": pre-release */

    /* Bytes after len do not count, a NUL ends the string early. */
    CHECK_INT(upd_version_cmpn("1.2.3.4", 5, "1.2.3", 5), ==, 0);
    CHECK_INT(upd_version_cmpn("1.2   x", 4, "1.2", 3), ==, 0);
    CHECK_INT(upd_version_cmpn("1.2\0.9", 6, "1.2", 3), ==, 0);
    CHECK_INT(upd_version_cmpn("1.2\0.9", 6, "1.2.9", 5), <, 0);
    CHECK_INT(upd_version_cmpn("\0"
                               "9",
                               2, "", 0),
              ==, 0);
    CHECK_INT(upd_version_cmpn(NULL, 0, "", 0), ==, 0);
    CHECK_INT(upd_version_cmpn(NULL, 0, nt_123, sizeof nt_123), <, 0);
    CHECK_INT(upd_version_cmpn(nt_123, 0, NULL, 0), ==, 0);
    CHECK_INT(upd_version_cmpn(NULL, 5, "", 0), ==, 0); /* NULL is empty, whatever the length */
}

/* Strings far longer than UPD_VERSION_MAX compare as well. */
static char long_a[1200], long_b[1200];

static void test_long_strings(void)
{
    size_t i;
    /* "1." and 1000 zeros then "1" vs "1.1": the same number. */
    memcpy(long_a, "1.", 2);
    memset(long_a + 2, '0', 1000);
    memcpy(long_a + 1002, "1", 2);
    CHECK_INT(upd_version_cmp(long_a, "1.1"), ==, 0);
    CHECK_INT(upd_version_cmp(long_a, "1.2"), <, 0);
    /* 1001 nines vs "1" followed by 1001 zeros. */
    memset(long_a, '9', 1001);
    long_a[1001] = '\0';
    long_b[0] = '1';
    memset(long_b + 1, '0', 1001);
    long_b[1002] = '\0';
    CHECK_INT(upd_version_cmp(long_a, long_b), <, 0);
    CHECK_INT(upd_version_cmp(long_b, long_a), >, 0);
    /* 500 components "1.1.1...", then one more. */
    for (i = 0; i < 500; i++)
        memcpy(long_a + 2 * i, "1.", 2);
    long_a[999] = '\0';
    memcpy(long_b, long_a, 1000);
    memcpy(long_b + 999, ".1", 3);
    CHECK_INT(upd_version_cmp(long_a, long_b), <, 0);
    CHECK_INT(upd_version_cmpn(long_a, 999, long_b, 999), ==, 0);
    CHECK_INT(upd_version_cmpn(long_a, sizeof long_a, long_b, 999), ==, 0);
    /* A long pre-release and long opaque text. */
    memset(long_a, 'a', 1100);
    long_a[1100] = '\0';
    memcpy(long_b, long_a, 1101);
    long_b[1099] = 'b';
    CHECK_INT(upd_version_cmp(long_a, long_b), <, 0);
    memcpy(long_a, "1.0-", 4);
    memcpy(long_b, "1.0-", 4);
    CHECK_INT(upd_version_cmp(long_a, long_b), <, 0);
    CHECK_INT(upd_version_cmp(long_b, "1.0"), <, 0);
}

/* Deterministic pseudo-random versions built from fragments. */
static const char *const fragments[] = {
    "1",
    "0",
    "10",
    "9",
    "00",
    "007",
    ".",
    ".",
    "-",
    "_",
    "rc",
    "RC",
    "alpha",
    "beta",
    "+",
    "v",
    "V",
    " ",
    "a",
    "Z",
    ":",
    "(x)",
    "b",
    "2024-01-02",
    "T12:30",
    "20240102-1200",
    "-dirty",
    "-3-gabcd123",
    "99999999999999999999",
    "2",
    "1.0.0",
    "-rc.",
    "2024-01-02 23:59",
};
#define NFRAG   (sizeof fragments / sizeof fragments[0])
#define NGEN    300
#define GEN_MAX 64
#define NTRI    60

static char gen[NGEN][GEN_MAX];
static signed char tri[NTRI][NTRI];
static unsigned rng_state = 0x2545F491u;

static unsigned rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* Appends f to the string at d (length *len) if it fits. */
static void append(char *d, size_t *len, const char *f)
{
    size_t fl = strlen(f);
    if (*len + fl < GEN_MAX) {
        memcpy(d + *len, f, fl + 1);
        *len += fl;
    }
}

/* Shapes of a version, each part spelt in several ways so that equal versions meet. */
static const char *const g_lead[] = {"", "", "v", "V", " "};
static const char *const g_rel[] = {"1",
                                    "1.0",
                                    "01",
                                    "1.0.0",
                                    "1.2",
                                    "1.02",
                                    "1.2.0",
                                    "2024-01-02",
                                    "2024.1.2",
                                    "20240102-1200",
                                    "20240102T120000",
                                    "10"};
static const char *const g_pre[] = {"",      "",       "-rc1",   "rc.1", "_RC1",
                                    "-rc01", "-alpha", ".alpha", "-1"};
static const char *const g_tail[] = {"", "", "", "+b1", "(x)", "-dirty", "-3-gabcd123", " "};
#define PICK(a) (a)[rng() % (sizeof(a) / sizeof((a)[0]))]

/* Two strings in three: version shapes; the others: soups of fragments. */
static void generate(void)
{
    for (size_t i = 0; i < NGEN; i++) {
        size_t len = 0;
        gen[i][0] = '\0';
        if (i % 3 != 2) {
            append(gen[i], &len, PICK(g_lead));
            append(gen[i], &len, PICK(g_rel));
            append(gen[i], &len, PICK(g_pre));
            append(gen[i], &len, PICK(g_tail));
            continue;
        }
        size_t parts = 1 + rng() % 7;
        for (size_t k = 0; k < parts; k++) {
            /* Most soups start with a number so that most are structured. */
            append(gen[i], &len,
                   (k == 0 && rng() % 4 != 0) ? fragments[rng() % 4] : fragments[rng() % NFRAG]);
        }
    }
}

static void test_properties(void)
{
    size_t i, j, k;
    int structured = 0;
    char buf[GEN_MAX + 8];
    generate();
    for (i = 0; i < NGEN; i++) {
        size_t l = strlen(gen[i]);
        structured += upd_version_is_structured(gen[i], l);
        CHECK_INT(upd_version_cmp(gen[i], gen[i]), ==, 0);
        /* Surrounding whitespace and bytes past len do not matter. */
        buf[0] = ' ';
        memcpy(buf + 1, gen[i], l);
        memcpy(buf + 1 + l, "\t ", 3);
        CHECK_INT(upd_version_cmp(buf, gen[i]), ==, 0);
        memcpy(buf, gen[i], l);
        memcpy(buf + l, ".7rc", 5);
        CHECK_INT(upd_version_cmpn(buf, l, gen[i], l), ==, 0);
    }
    CHECK_INT(structured, >, NGEN / 2);
    CHECK_INT(structured, <, NGEN);
    for (i = 0; i < NGEN; i++) {
        for (j = i + 1; j < NGEN; j++) {
            int ab = sgn(upd_version_cmp(gen[i], gen[j]));
            int ba = sgn(upd_version_cmp(gen[j], gen[i]));
            if (ab != -ba)
                printf("  antisymmetry: \"%s\" vs \"%s\": %d, %d\n", gen[i], gen[j], ab, ba);
            CHECK_INT(ab, ==, -ba);
        }
    }
    int bad = 0, chains = 0, spellings = 0;
    for (i = 0; i < NTRI; i++) {
        for (j = 0; j < NTRI; j++) {
            tri[i][j] = (signed char)sgn(upd_version_cmp(gen[i], gen[j]));
            spellings += tri[i][j] == 0 && strcmp(gen[i], gen[j]) != 0;
        }
    }
    for (i = 0; i < NTRI; i++) {
        for (j = 0; j < NTRI; j++) {
            if (tri[i][j] > 0)
                continue;
            for (k = 0; k < NTRI; k++) {
                if (tri[j][k] > 0)
                    continue;
                chains++;
                if (tri[i][k] > 0 || (tri[i][j] == 0 && tri[j][k] == 0 && tri[i][k] != 0)) {
                    if (bad++ < 5)
                        printf("  transitivity: \"%s\" <= \"%s\" <= \"%s\"\n", gen[i], gen[j],
                               gen[k]);
                }
            }
        }
    }
    CHECK_INT(bad, ==, 0);
    CHECK_INT(chains, >, NTRI * NTRI * NTRI / 8);
    CHECK_INT(spellings, >=, 10); /* the sample holds versions spelt in several ways */
}

/* A chain across all the rules: every pair of it compares in chain order. */
static void test_chain(void)
{
    static const char *const chain[] = {
        "",
        "abc",
        "esp-idf: v4.4.7 38eeba213a",
        "unknown",
        "0.9",
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.0+b5",
        "1.0.0+b10",
        "1.0.1",
        "1.2rc9",
        "1.2rc10",
        "1.2",
        "1.10",
        "9.5.0",
        "9.5.0(tasmota)",
        "14.3.0.4",
        "2024-03-05",
        "2024-03-05T12:36",
        "2024-03-05T12:37",
        "18122801",
        "20240305-1236",
        "99999999999999999999",
    };
    size_t n = sizeof chain / sizeof chain[0];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            CHECK_INT(sgn(upd_version_cmp(chain[i], chain[j])), ==, (i > j) - (i < j));
}

int main(void)
{
    RUN(test_ordered_pairs);
    RUN(test_equal_pairs);
    RUN(test_is_structured);
    RUN(test_length_bounded);
    RUN(test_long_strings);
    RUN(test_properties);
    RUN(test_chain);
    return upd_test_summary();
}
