/* UTF-8 validation (src/host/utf8.c): what PostgreSQL accepts, byte for byte. */
#include "upd_test.h"
#include "utf8.h"

static int seq(const char *s)
{
    return upd_utf8_seq((const unsigned char *)s);
}

static void test_valid(void)
{
    CHECK_INT(seq("a"), ==, 1);
    CHECK_INT(seq(""), ==, 1);             /* the NUL: the caller stops there */
    CHECK_INT(seq("\xc3\xa9"), ==, 2);     /* e acute */
    CHECK_INT(seq("\xe2\x82\xac"), ==, 3); /* euro sign */
    CHECK_INT(seq("\xf0\x9f\x98\x80"), ==, 4);
    CHECK_INT(seq("\xf4\x8f\xbf\xbf"), ==, 4); /* U+10FFFF */
}

static void test_invalid(void)
{
    CHECK_INT(seq("\x80"), ==, 0);             /* a continuation byte alone */
    CHECK_INT(seq("\xc0\xaf"), ==, 0);         /* overlong '/' */
    CHECK_INT(seq("\xc3"), ==, 0);             /* cut short by the NUL */
    CHECK_INT(seq("\xe0\x80\xaf"), ==, 0);     /* overlong, 3 bytes */
    CHECK_INT(seq("\xed\xa0\x80"), ==, 0);     /* a surrogate */
    CHECK_INT(seq("\xf0\x80\x80\xaf"), ==, 0); /* overlong, 4 bytes */
    CHECK_INT(seq("\xf4\x90\x80\x80"), ==, 0); /* past U+10FFFF */
    CHECK_INT(seq("\xf5\x80\x80\x80"), ==, 0);
    CHECK_INT(seq("\xe2\x82"), ==, 0); /* cut short */
    CHECK_INT(seq("\xff"), ==, 0);
}

int main(void)
{
    RUN(test_valid);
    RUN(test_invalid);
    return upd_test_summary();
}
