/* The error table: every code has a distinct value, a name and a message that says
 * what to do; unknown codes never give NULL. */
#include "updraft/error.h"
#include "upd_test.h"

static const int all_codes[] = {
#define X(name, value, msg) value,
    UPD_ERRNO_MAP(X)
#undef X
};
static const char *const all_names[] = {
#define X(name, value, msg) "UPD_" #name,
    UPD_ERRNO_MAP(X)
#undef X
};

static void test_codes_negative_and_distinct(void)
{
    size_t n = sizeof all_codes / sizeof all_codes[0];
    for (size_t i = 0; i < n; i++) {
        CHECK_INT(all_codes[i], <, 0);
        for (size_t j = i + 1; j < n; j++)
            CHECK_INT(all_codes[i], !=, all_codes[j]);
    }
}

static void test_names_and_messages(void)
{
    size_t n = sizeof all_codes / sizeof all_codes[0];
    for (size_t i = 0; i < n; i++) {
        CHECK_STR(upd_err_name(all_codes[i]), all_names[i]);
        const char *m = upd_strerror(all_codes[i]);
        CHECK(m != NULL && strlen(m) > 20);
        CHECK_STR(upd_strerror(all_codes[i]), m);
    }
    CHECK_STR(upd_err_name(UPD_ETRUNC), "UPD_ETRUNC");
    CHECK_CONTAINS(upd_strerror(UPD_EEMPTY), "empty");
}

static void test_unknown_codes(void)
{
    CHECK_STR(upd_strerror(0), "success");
    CHECK_STR(upd_err_name(0), "UPD_OK");
    CHECK_STR(upd_strerror(-9999), "unknown error");
    CHECK_STR(upd_err_name(-9999), "UPD_UNKNOWN");
    CHECK_STR(upd_strerror(12345), "unknown error");
}

int main(void)
{
    RUN(test_codes_negative_and_distinct);
    RUN(test_names_and_messages);
    RUN(test_unknown_codes);
    return upd_test_summary();
}
