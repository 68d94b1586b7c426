/* Tag names and tag lists (tags.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tags.h"

static int tag_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
           ch == '-';
}

int upd__tag_check(const char *name, size_t len, char *err, size_t errlen)
{
    const char *what = NULL;
    if (len == 0)
        what = "is empty";
    else if (len > UPD_TAG_LEN_MAX)
        what = "is longer than 24 characters";
    else if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
        what = (name[0] >= 'A' && name[0] <= 'Z') ? "has capital letters (tags are lowercase)"
                                                  : "does not begin with a letter or digit";
    for (size_t i = 0; !what && i < len; i++)
        if (!tag_char(name[i]))
            what = (name[i] >= 'A' && name[i] <= 'Z') ? "has capital letters (tags are lowercase)"
                                                      : "has a character a tag cannot have";
    if (!what)
        return 0;
    snprintf(err, errlen,
             "tag '%.*s' %s: a tag is 1 to 24 lowercase letters, digits, '.', '_' and '-', "
             "beginning with a letter or digit (lab, kitchen, floor-2)",
             (int)(len > 40 ? 40 : len), name, what);
    return -1;
}

int upd__tags_has(const char *list, const char *tag, size_t len)
{
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == len && !memcmp(p, tag, len))
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int upd__tags_edit(const char *list, const char *const *tags, int n, int add,
                   char out[UPD_TAGS_MAX], char *err, size_t errlen)
{
    /* the current tags, split in a copy; then the new set as pointers */
    char copy[UPD_TAGS_MAX];
    snprintf(copy, sizeof copy, "%s", list ? list : "");
    const char *set[UPD_TAGS_PER_DEVICE * 2 + 64];
    int ns = 0;
    for (char *p = copy, *e; *p && ns < (int)(sizeof set / sizeof set[0]); p = e + 1) {
        e = strchr(p, ',');
        if (e)
            *e = '\0';
        if (*p) {
            int drop = 0;
            for (int i = 0; !add && i < n; i++)
                if (!strcmp(p, tags[i]))
                    drop = 1;
            if (!drop)
                set[ns++] = p;
        }
        if (!e)
            break;
    }
    for (int i = 0; add && i < n; i++) {
        int have = 0;
        for (int j = 0; j < ns; j++)
            if (!strcmp(set[j], tags[i]))
                have = 1;
        if (have)
            continue;
        if (ns >= UPD_TAGS_PER_DEVICE) {
            snprintf(err, errlen,
                     "a device carries at most %d tags: remove some first ('updraft device "
                     "untag MAC TAG...')",
                     UPD_TAGS_PER_DEVICE);
            return -1;
        }
        set[ns++] = tags[i];
    }
    qsort(set, (size_t)ns, sizeof set[0], cmp_str);
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < ns; i++) {
        size_t l = strlen(set[i]);
        if (len + l + 2 > UPD_TAGS_MAX) {
            snprintf(err, errlen, "the device's tags do not fit in %d characters",
                     UPD_TAGS_MAX - 1);
            return -1;
        }
        if (len)
            out[len++] = ',';
        memcpy(out + len, set[i], l);
        len += l;
        out[len] = '\0';
    }
    return 0;
}
