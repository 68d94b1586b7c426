#!/usr/bin/env bash
# A quick look at section 2 of run.sh alone (1 MiB downloads, server CPU per MiB against
# nginx in the same run), for working on the download path; run.sh stays the benchmark
# of record. Optionally a second updraft binary (BASE=path, e.g. a copy of main's build)
# in the same rounds, to compare two builds.
#
# Usage: bench/server/dlquick.sh        Settings: ROUNDS=3 DURATION=5 BASE= SKIP_BUILD=1
# Prints one line per run and the medians; CPU from /proc/PID/task/*/schedstat as run.sh.
# "the rest" is updraft's own threads (its device-record writer above all): per 1 MiB
# download, so ms per MiB x 1000 = us per download; with it the downloads per writer batch
# (the batches from updraft_store_seconds_count{op="batch"} of /metrics).
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/bench/server"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
LOG_TAG=dlquick
# shellcheck source=bench/server/lib.sh
. "$HERE/lib.sh"
need wrk nginx curl
build_release

pick_port P_UPD
pick_port P_BASE
pick_port P_NGX
make_big_firmware "$WORK/fw-1mib.bin"

serve_updraft "$P_UPD" "$WORK/upd" "$WORK/upd.log" 10
UPD_PID=$SERVED_PID
ID=$(upload_release "$P_UPD" "$WORK/fw-1mib.bin" 2.0.0 stable)
[ -n "$ID" ] || die "upload failed: $(tail -3 "$WORK/upd.log")"
download_request /update "127.0.0.1:$P_UPD" >"$WORK/upd.req"
download_request "/releases/$ID/firmware.bin" "127.0.0.1:$P_UPD" >"$WORK/updrel.req"
SERVERS="updraft:$P_UPD:$WORK/upd.req:$UPD_PID updraft-rel:$P_UPD:$WORK/updrel.req:$UPD_PID"
if [ -n "${BASE:-}" ]; then
    UPDRAFT=$BASE serve_updraft "$P_BASE" "$WORK/base" "$WORK/base.log" 10
    BASE_PID=$SERVED_PID
    BID=$(UPDRAFT=$BASE upload_release "$P_BASE" "$WORK/fw-1mib.bin" 2.0.0 stable)
    download_request /update "127.0.0.1:$P_BASE" >"$WORK/base.req"
    download_request "/releases/$BID/firmware.bin" "127.0.0.1:$P_BASE" >"$WORK/baserel.req"
    SERVERS="$SERVERS base:$P_BASE:$WORK/base.req:$BASE_PID base-rel:$P_BASE:$WORK/baserel.req:$BASE_PID"
fi
nginx_conf "$WORK/nginx" "$(nproc)" 16384 "" "
    sendfile on;
    tcp_nopush on;
    server {
        listen 127.0.0.1:$P_NGX backlog=4096;
        location = /firmware.bin { default_type application/octet-stream; alias $WORK/fw-1mib.bin; }
    }"
nginx -c "$WORK/nginx/nginx.conf" -g 'daemon off;' >"$WORK/nginx/stdout.log" 2>&1 &
NGX_PID=$!
STARTED+=("$NGX_PID")
wait_port "$P_NGX" || die "nginx did not start"
device_request /firmware.bin "127.0.0.1:$P_NGX" 1.0.0 "$OLD_MD5" 400000 >"$WORK/ngx.req"
SERVERS="$SERVERS nginx:$P_NGX:$WORK/ngx.req:$NGX_PID"

cpu_ns() { # PID -> "ALL REQUEST": nanoseconds on the CPU of every thread of the process and
    # its children, and of the request threads alone (all but updraft's own: its writer,
    # named "writer", and the others, named updraft*), as run.sh counts them
    local tot=0 req=0 p t v
    for p in "$@" $(pgrep -P "$1" | tr '\n' ' '); do
        for t in /proc/"$p"/task/*; do
            v=$(cut -d' ' -f1 "$t/schedstat" 2>/dev/null) || continue
            tot=$((tot + ${v:-0}))
            case $(cat "$t/comm" 2>/dev/null) in updraft* | writer) ;; *) req=$((req + ${v:-0})) ;; esac
        done
    done
    echo "$tot $req"
}
batches() { # PORT: the writer batches the server wrote so far (nginx: 0)
    api "http://127.0.0.1:$1/metrics" 2>/dev/null |
        sed -n 's/^updraft_store_seconds_count{op="batch"} //p' | grep . || echo 0
}
declare -A CPU REQ REST
log "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
    for s in $SERVERS; do
        IFS=: read -r name port req pid <<<"$s"
        b0=$(batches "$port")
        c0=$(cpu_ns "$pid")
        line=$(timeout $((DURATION + 15)) wrk -t2 -c64 -d"${DURATION}s" -s "$HERE/device.lua" \
            "http://127.0.0.1:$port" -- "$req" 2>&1 | grep '^WRK ')
        c1=$(cpu_ns "$pid")
        b1=$(batches "$port")
        rq=$(echo "$line" | sed -n 's/.* requests=\([0-9]*\).*/\1/p')
        [ -n "$rq" ] && [ "$rq" -gt 0 ] || { log "$name: no result"; continue; }
        per=$(awk -v c=$((${c1% *} - ${c0% *})) -v n="$rq" 'BEGIN {printf "%.4f", c / n / 1e6}')
        preq=$(awk -v c=$((${c1#* } - ${c0#* })) -v n="$rq" 'BEGIN {printf "%.4f", c / n / 1e6}')
        rest=$(awk -v a="$per" -v b="$preq" 'BEGIN {printf "%.4f", a - b}')
        perb=$(awk -v n="$rq" -v b=$((b1 - b0)) 'BEGIN {printf (b > 0 ? "%.1f" : "-"), n / b}')
        CPU[$name]="${CPU[$name]:-} $per"
        REQ[$name]="${REQ[$name]:-} $preq"
        REST[$name]="${REST[$name]:-} $rest"
        log "round $r $name: $rq downloads, server CPU ms per MiB $per (request threads $preq, the rest $rest; downloads per writer batch $perb) ($(echo "$line" | cut -c5-))"
        sleep 1
    done
done
log "load: $(cut -d' ' -f1-3 /proc/loadavg)"
med() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
NGX=$(echo "${CPU[nginx]}" | med)
for s in $SERVERS; do
    name=${s%%:*}
    m=$(echo "${CPU[$name]:-}" | med)
    q=$(echo "${REQ[$name]:-}" | med)
    o=$(echo "${REST[$name]:-}" | med)
    printf '%-12s CPU ms per MiB (median) %s = %sx nginx; request threads %s = %sx; the rest %s\n' \
        "$name" "$m" "$(awk -v a="$m" -v b="$NGX" 'BEGIN {printf "%.2f", a / b}')" "$q" \
        "$(awk -v a="$q" -v b="$NGX" 'BEGIN {printf "%.2f", a / b}')" "$o"
done
