/* A what-if for bench/server/run.sh, never for a server in use: how much of updraft's download
 * CPU is libmicrohttpd 0.9.75's way of sending a file response. Loaded into a second updraft
 * with LD_PRELOAD, it makes that library (which calls send, sendfile64 and setsockopt) send the
 * way nginx (sendfile on, tcp_nopush on) does:
 *
 *   - the whole rest of the file in one sendfile() where the library asks for 128 KiB
 *     (MHD_SENFILE_CHUNK_, one pass of its event loop each: eight per 1 MiB);
 *   - the response header held back (MSG_MORE) to go out with the body's first bytes, where
 *     the library sends it on its own and pushes it with TCP_NODELAY;
 *   - no TCP_NODELAY at all (the library sets it to push the header and the body's end; the
 *     close pushes what is left, as nginx's does).
 *
 * It knows nothing of ranges (the rest of the FILE is sent, not the rest of the response)
 * and holds back every 200 header, so it is only right for what run.sh sends: whole 1 MiB
 * images to HTTP/1.0 devices that close. The answers run.sh checks before each run (status,
 * Content-Length) and wrk's byte counts show it did not change what the device gets.
 *
 *   cc -O2 -shared -fPIC -o mhdsend.so mhdsend.c -ldl
 *   LD_PRELOAD=./mhdsend.so updraft serve ... */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

/* the rest of the file from *off, if more than count */
static size_t to_end(int in, const off64_t *off, size_t count)
{
    struct stat st;
    if (off && fstat(in, &st) == 0 && st.st_size > *off && (size_t)(st.st_size - *off) > count)
        return (size_t)(st.st_size - *off);
    return count;
}

ssize_t sendfile64(int out, int in, off64_t *off, size_t count)
{
    static ssize_t (*real)(int, int, off64_t *, size_t);
    if (!real)
        real = (ssize_t(*)(int, int, off64_t *, size_t))dlsym(RTLD_NEXT, "sendfile64");
    return real(out, in, off, to_end(in, off, count));
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    static ssize_t (*real)(int, const void *, size_t, int);
    if (!real)
        real = (ssize_t(*)(int, const void *, size_t, int))dlsym(RTLD_NEXT, "send");
    if (len > 12 && !memcmp(buf, "HTTP/1.1 200", 12))
        flags |= MSG_MORE;
    return real(fd, buf, len, flags);
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    static int (*real)(int, int, int, const void *, socklen_t);
    if (!real)
        real = (int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
    if (level == IPPROTO_TCP && name == TCP_NODELAY)
        return 0;
    return real(fd, level, name, val, len);
}
