/* TLS record sizes for devices that asked for small ones (RFC 6066 max_fragment_length).
 *
 * An ESP8266 with BearSSL buffers of 512..4096 bytes (probeMaxFragmentLength, then
 * setBufferSizes) cannot take a longer record: it drops the connection. GnuTLS (seen with
 * 3.7.9) accepts the extension, echoes it and reports the length through
 * gnutls_record_get_max_size, but its sender keeps to the application's own limit, 16 KiB
 * unless set: every write libmicrohttpd makes (up to its 4 KiB buffer) leaves as one
 * record. The response headers (about 450 bytes) fit a 512-byte record, the first block of
 * the image does not, so the device lost the connection right after the headers (-5).
 * Setting the negotiated length as the session's limit makes GnuTLS cut records to it. */
#include <gnutls/gnutls.h>

#include "srv.h"

/* The largest record GnuTLS sends by default (2^14, RFC 8446 5.1). */
#define UPD_TLS_RECORD_MAX 16384

int upd__tls_fit_records(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return 0;
    gnutls_session_t ses = (gnutls_session_t)ci->tls_session;
    size_t n = gnutls_record_get_max_size(ses);
    if (n == 0 || n >= UPD_TLS_RECORD_MAX)
        return 0;
    /* negotiated: 512, 1024, 2048 or 4096 (MFLN) or a record_size_limit */
    if (gnutls_record_set_max_size(ses, n) != 0)
        return -1;
    return (int)n;
}
