/* PostgreSQL array literals (src/server/pgarray.c): quoting, NULLs, numbers, bytes that
 * are not UTF-8, long arrays, reuse. That PostgreSQL reads them back exactly is tested
 * on a real cluster (test_pg.py group batch). */
#include <stdio.h>
#include <string.h>

#include "pgarray.h"
#include "upd_test.h"

static void test_empty(void)
{
    upd_pgarr a;
    upd__pgarr_init(&a);
    CHECK_STR(upd__pgarr_text(&a), "{}");
    upd__pgarr_free(&a);
    upd__pgarr_free(&a); /* twice: harmless */
}

static void test_elements(void)
{
    upd_pgarr a;
    upd__pgarr_init(&a);
    upd__pgarr_str(&a, "5C:CF:7F:00:00:01");
    upd__pgarr_str(&a, "");
    upd__pgarr_str(&a, NULL);
    upd__pgarr_str(&a, "NULL");
    upd__pgarr_str(&a, "a \"quoted\" \\ back{slash},");
    upd__pgarr_str_or_null(&a, "");
    upd__pgarr_str_or_null(&a, "x");
    upd__pgarr_int(&a, 0);
    upd__pgarr_int(&a, -9223372036854775807LL - 1);
    upd__pgarr_int_or_null(&a, -1);
    upd__pgarr_int_or_null(&a, 1765000000000LL);
    upd__pgarr_null(&a);
    CHECK_STR(upd__pgarr_text(&a),
              "{\"5C:CF:7F:00:00:01\",\"\",NULL,\"NULL\",\"a \\\"quoted\\\" \\\\ back{slash},\","
              "NULL,\"x\",0,-9223372036854775808,NULL,1765000000000,NULL}");
    CHECK_INT(a.n, ==, 12);
    /* more after a look at the text: the closing brace moves */
    upd__pgarr_int(&a, 7);
    const char *t = upd__pgarr_text(&a);
    CHECK(t && strlen(t) > 4 && !strcmp(t + strlen(t) - 4, "L,7}"));
    upd__pgarr_free(&a);
}

static void test_utf8(void)
{
    upd_pgarr a;
    upd__pgarr_init(&a);
    upd__pgarr_str(&a, "caf\xc3\xa9 \xe2\x82\xac");          /* valid: kept */
    upd__pgarr_str(&a, "bad \xff\xfe end \xc3");             /* invalid bytes: '?' */
    upd__pgarr_str(&a, "over\xc0\xaflong and \xed\xa0\x80"); /* overlong, surrogate */
    CHECK_STR(upd__pgarr_text(&a),
              "{\"caf\xc3\xa9 \xe2\x82\xac\",\"bad ?? end ?\",\"over??long and ???\"}");
    upd__pgarr_free(&a);
}

static void test_long_and_reuse(void)
{
    upd_pgarr a;
    upd__pgarr_init(&a);
    char big[4096];
    memset(big, '"', sizeof big - 1); /* every byte escaped: the worst case */
    big[sizeof big - 1] = '\0';
    for (int i = 0; i < 1000; i++)
        upd__pgarr_str(&a, big);
    const char *t = upd__pgarr_text(&a);
    CHECK(t != NULL);
    /* 1000 x (2 x 4095 + 2 quotes) + 999 commas + 2 braces */
    CHECK_INT(t ? strlen(t) : 0, ==, 1000 * (2 * 4095 + 2) + 999 + 2);
    CHECK(t && t[0] == '{' && t[1] == '"' && t[2] == '\\' && t[3] == '"');
    upd__pgarr_clear(&a);
    CHECK_STR(upd__pgarr_text(&a), "{}");
    for (int i = 0; i < 3; i++)
        upd__pgarr_int(&a, i);
    CHECK_STR(upd__pgarr_text(&a), "{0,1,2}");
    upd__pgarr_free(&a);
}

int main(void)
{
    RUN(test_empty);
    RUN(test_elements);
    RUN(test_utf8);
    RUN(test_long_and_reuse);
    return upd_test_summary();
}
