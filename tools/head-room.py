#!/usr/bin/env python3
"""How large a request head each kind of dashboard answer takes in the connection's 4 KiB
memory pool: sends growing heads (one long header, or many short ones) to `updraft serve`
(built with UPD_HEAD_MAX and UPD_HEAD_MAX_WEB raised above 6000 in src/server/srv.h, so
that the pool, not the server's own limit, is what refuses) and prints the largest cost
(bytes + 64 per field, as src/server/reqlimit.c counts) that still got a whole answer.
docs/security.md "Request heads". usage: tools/head-room.py UPDRAFT_BINARY"""
import json, os, re, socket, subprocess, sys, tempfile
BIN=sys.argv[1] if len(sys.argv) > 1 else "build/release/src/cli/updraft"
env=dict(os.environ, UPDRAFT_ADMIN_TOKEN="test-admin-token-0123456789")
p=subprocess.Popen([BIN,"serve","--listen","127.0.0.1:0","--data",tempfile.mkdtemp(prefix="head-room-")+"/data","--threads","2"],stdout=subprocess.PIPE,stderr=subprocess.DEVNULL,env=env)
port=None
while True:
    l=p.stdout.readline().decode()
    m=re.search(r"listening on http://127.0.0.1:(\d+)",l)
    if m: port=int(m.group(1)); break
def raw(req):
    s=socket.create_connection(("127.0.0.1",port),timeout=5); s.sendall(req); buf=b""
    while True:
        try: d=s.recv(65536)
        except Exception: break
        if not d: break
        buf+=d
    s.close(); return buf
# a session cookie
r=raw(b'POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 39\r\nConnection: close\r\n\r\n{"token":"test-admin-token-0123456789"}')
cookie=re.search(rb"updraft_session=([0-9a-f]{64})",r).group(1).decode()
csrf=json.loads(r.split(b"\r\n\r\n",1)[1])["csrf"]
cases={
 "GET /": "GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n%sConnection: close\r\n\r\n",
 "GET /ui/js/app.js": "GET /ui/js/app.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n%sConnection: close\r\n\r\n",
 "GET /api/v1/session": "GET /api/v1/session HTTP/1.1\r\nHost: x\r\nCookie: updraft_session="+cookie+"\r\n%sConnection: close\r\n\r\n",
 "POST /api/v1/session": "POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 39\r\n%sConnection: close\r\n\r\n{\"token\":\"test-admin-token-0123456789\"}",
 "GET /api/v1/devices": "GET /api/v1/devices HTTP/1.1\r\nHost: x\r\nCookie: updraft_session="+cookie+"\r\n%sConnection: close\r\n\r\n",
}
for name,tpl in cases.items():
  for shape in ("one", "many"):
    last_ok=None; first_bad=None
    for n in range(0,6000,20):
        pad = ("X-Pad: %s\r\n" % ("a"*n)) if shape=="one" else "".join("X-P%d: a\r\n"%i for i in range(n//20))
        req=(tpl%pad).encode()
        r=raw(req)
        ok=r.startswith(b"HTTP/1.1 2") and (b"\r\n\r\n" in r)
        # cost as reqlimit counts it
        lines=(tpl%pad).split("\r\n\r\n")[0].split("\r\n")
        fields=len(lines)-1 + (1 if "Cookie" in tpl else 0)
        cost=len((tpl%pad).split("\r\n\r\n")[0])+2+fields*64
        if ok: last_ok=cost
        elif first_bad is None: first_bad=(cost, r[:60]); break
    print(name, shape, "largest ok cost", last_ok, "first failing", first_bad)
p.terminate(); p.wait()
