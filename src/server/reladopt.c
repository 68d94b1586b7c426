/* Release adoption (reladopt.h): one grouped count over the devices, then a lookup per
 * release. */
#include <stdlib.h>

#include "reladopt.h"

typedef struct counts {
    int64_t *id, *dev, *tool;
    size_t n, cap;
    int oom;
} counts;

static int collect(void *ctx, int64_t id, int64_t devices, int64_t tool_devices)
{
    counts *k = ctx;
    if (k->n == k->cap) {
        size_t nc = k->cap ? k->cap * 2 : 64;
        int64_t *a = realloc(k->id, nc * sizeof *a);
        if (a)
            k->id = a;
        int64_t *b = realloc(k->dev, nc * sizeof *b);
        if (b)
            k->dev = b;
        int64_t *c = realloc(k->tool, nc * sizeof *c);
        if (c)
            k->tool = c;
        if (!a || !b || !c) {
            k->oom = 1;
            return 1;
        }
        k->cap = nc;
    }
    k->id[k->n] = id;
    k->dev[k->n] = devices;
    k->tool[k->n] = tool_devices;
    k->n++;
    return 0;
}

int upd__reladopt_add(srv *s, cJSON *releases)
{
    counts k = {0};
    upd_writer_flush(s->writer); /* what devices reported a moment ago counts */
    int rc = s->store->ops->release_adoption(s->store, collect, &k);
    if (rc == 0 && !k.oom) {
        cJSON *rel;
        cJSON_ArrayForEach(rel, releases)
        {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(rel, "id");
            int64_t dev = 0, tool = 0;
            for (size_t i = 0; cJSON_IsNumber(id) && i < k.n; i++)
                if (k.id[i] == (int64_t)id->valuedouble) {
                    dev = k.dev[i];
                    tool = k.tool[i];
                    break;
                }
            cJSON *a = cJSON_AddObjectToObject(rel, "adoption");
            cJSON_AddNumberToObject(a, "devices", (double)dev);
            cJSON_AddNumberToObject(a, "tool_devices", (double)tool);
        }
    }
    free(k.id);
    free(k.dev);
    free(k.tool);
    return rc == 0 && !k.oom ? 0 : -1;
}
