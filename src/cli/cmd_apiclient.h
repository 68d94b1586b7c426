/* A small HTTP/1.1 client for the admin commands: one request per connection, to the
 * server named by UPDRAFT_URL (default http://127.0.0.1:8080) with the token in
 * UPDRAFT_TOKEN. https:// URLs are verified against the system's trust store, or
 * UPDRAFT_CA_FILE; UPDRAFT_INSECURE=1 skips the verification. */
#ifndef UPD_CLI_APICLIENT_H
#define UPD_CLI_APICLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef struct upd_api_resp {
    int status;
    char *body; /* NUL-terminated, malloc'd */
    size_t len;
} upd_api_resp;

/* Send method path (path includes the query) with an optional body: from memory
 * (body/len) or from the file descriptor body_fd (len bytes, progress bar on stderr
 * when it is a terminal). Returns 0 with *out filled (free out->body), or -1 with a
 * message in err. */
int upd_api_request(const char *method, const char *path, const char *content_type,
                    const void *body, size_t len, int body_fd, upd_api_resp *out, char *err,
                    size_t errlen);

/* Percent-encode s for a query string into out (cap bytes). */
void upd_api_urlencode(const char *s, char *out, size_t cap);

/* Send, parse the JSON answer, print the server's error (and return NULL) when the
 * status is not 2xx. cmd names the command for messages. */
cJSON *upd_api_call(const char *cmd, const char *method, const char *path, const char *json_body);

#endif
