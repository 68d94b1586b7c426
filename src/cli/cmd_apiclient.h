/* A small HTTP/1.1 client for the admin commands: one request per connection. The
 * server: UPDRAFT_URL, else the one `updraft login` saved, else http://127.0.0.1:8080
 * (a device URL such as .../update is cut to the server's). The token: UPDRAFT_TOKEN,
 * else the one `updraft login` saved for that server, else, for a server on this
 * machine, the admin-token file of ./updraft-data (or $UPDRAFT_DATA). https:// URLs are
 * verified against the system's trust store, or UPDRAFT_CA_FILE; UPDRAFT_INSECURE=1
 * skips the verification. */
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

/* A request body in up to three parts, sent in this order: head (head_len bytes of
 * memory, or NULL), file_len bytes read from fd (-1: none), tail (memory, or NULL). */
typedef struct upd_api_body {
    const void *head;
    size_t head_len;
    int fd;
    size_t file_len;
    const void *tail;
    size_t tail_len;
} upd_api_body;

/* upd_api_request with a body of parts (a form around a file): Content-Length is their sum,
 * the progress bar counts the file. */
int upd_api_request_parts(const char *method, const char *path, const char *content_type,
                          const upd_api_body *b, upd_api_resp *out, char *err, size_t errlen);

/* Percent-encode s for a query string into out (cap bytes). */
void upd_api_urlencode(const char *s, char *out, size_t cap);

/* Talk to url with token from now on (`updraft login` checks them). */
void upd_api_set_target(const char *url, const char *token);
/* The server's base URL in use. */
const char *upd_api_url(void);
/* Where the token in use came from ("the token in UPDRAFT_TOKEN", ...), and what to do
 * when the server refuses it. */
const char *upd_api_token_source(void);
const char *upd_api_token_hint(void);
/* The file `updraft login` keeps the server and token in. */
void upd_api_login_path(char *out, size_t cap);

#endif
