/* The event tail for pollers (GET /api/v1/events?after=ID; docs/api.md "Events"): the
 * events recorded after the last one a client saw, oldest first, with the id to ask
 * after next. Polling, not server-sent events: an open stream per dashboard would hold a
 * request thread's connection for its life, and a poll every few seconds costs one
 * indexed read (events by id). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"

#define TAIL_MAX 1000

typedef struct tail {
    cJSON *arr;
    int64_t last;
} tail;

static int collect(void *ctx, const upd_event_row *e)
{
    tail *t = ctx;
    cJSON_AddItemToArray(t->arr, upd__event_json(e));
    t->last = e->id;
    return 0;
}

enum MHD_Result upd__events_tail(req *r, struct MHD_Connection *c, const char *mac,
                                 const char *after, const char *before, const char *limit)
{
    srv *s = r->s;
    char *end;
    long long a = strtoll(after, &end, 10);
    if (!after[0] || *end || a < 0)
        return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-after",
                                "after must be an event id (0 or more): the last_id of the "
                                "previous answer, 0 for the oldest events kept");
    if (before)
        return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-request",
                                "after and before do not go together: after reads forward "
                                "(oldest first), before pages back (newest first)");
    long long n = 100;
    if (limit) {
        n = strtoll(limit, &end, 10);
        if (!limit[0] || *end || n < 1 || n > TAIL_MAX)
            return upd__reply_error(r, c, MHD_HTTP_BAD_REQUEST, "bad-limit",
                                    "limit must be a number from 1 to %d", TAIL_MAX);
    }
    tail t = {cJSON_CreateArray(), a};
    if (s->store->ops->event_tail(s->store, mac, upd__arg(c, "kind"), a, (int)n, collect, &t) !=
        0) {
        cJSON_Delete(t.arr);
        return upd__api_store_failed(r, c, NULL);
    }
    int more = cJSON_GetArraySize(t.arr) == (int)n;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "events", t.arr);
    /* ask with after=last_id next; more: the limit cut the answer, ask again at once */
    cJSON_AddNumberToObject(j, "last_id", (double)t.last);
    cJSON_AddBoolToObject(j, "more", more);
    return upd__reply_json(r, c, MHD_HTTP_OK, j);
}
