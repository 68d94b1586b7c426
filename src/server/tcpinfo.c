/* Bytes the peer acknowledged on a connection's TCP socket (Linux TCP_INFO): how much of
 * an aborted download reached the device. Kept apart because <linux/tcp.h> and
 * <netinet/tcp.h> do not mix. */
#include <stddef.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "srv.h"

uint64_t upd__tcp_acked(struct MHD_Connection *c, int *ok)
{
    *ok = 0;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return 0;
    struct tcp_info ti;
    memset(&ti, 0, sizeof ti);
    socklen_t len = sizeof ti;
    if (getsockopt(ci->connect_fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof ti.tcpi_bytes_acked)
        return 0;
    *ok = 1;
    return ti.tcpi_bytes_acked;
}
