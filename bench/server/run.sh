#!/usr/bin/env bash
# Server benchmarks for `updraft serve` (issue 3), all in one run, loopback only:
#
#   1. checks/s, the "no update" path: a device already on the current release asks
#      GET /update with the exact ESP8266 request (spec section 8: HTTP/1.0,
#      Connection: close, all x-ESP8266-* headers). updraft (304 from its policy) vs
#      nginx (`return 304;`) vs the PHP reference server of spec section 6
#      (reference.php under `php -S`, single process, and with PHP_CLI_SERVER_WORKERS=2).
#   2. 1 MiB downloads: the same request from a device on an older version; updraft
#      sends the 1 MiB release (/update, and the immutable /releases/<id>/<name>.bin)
#      vs nginx serving the same file statically with sendfile. MiB/s, and the server
#      process's CPU time (nanoseconds from /proc/<pid>/task/*/schedstat, all threads and
#      workers; the request threads apart) per MiB sent.
#   3. 10,000 concurrent slow downloads (slowdl.c: one epoll process, 50,000 bytes/s per
#      connection, small receive window) of a ~200 KB release from a freshly started
#      updraft; VmRSS, open fds and established connections sampled every 0.25 s.
#
# Every wrk run uses the same settings (-t2 -c64 -d10s by default); the servers take
# turns within each round (ROUNDS rounds) so background noise hits all alike; tables
# give the median of the rounds and every round's value.
#
# Usage: bench/server/run.sh            (from anywhere; about 10 minutes)
#        PROFILE=1 bench/server/run.sh  (adds a perf + strace profile of updraft)
# Settings (environment): ROUNDS=3 DURATION=10 WRK_THREADS=2 WRK_CONNS=64 SLOW_N=10000
#   SLOW_RATE=50000 SLOW_CODE=162000 SLOW_MAX_S=120 SLOW_ROUNDS=3 INSTR=0 (leave out section 5,
#   bench/server/instr.sh: instructions per check and per download under valgrind)
#   SKIP_BUILD=1 (use the existing build/release binaries) OUT=bench/results/server.md
#   KEEP_WORK=1 (keep the temp dir)
# Needs: wrk, nginx, php-cli, curl, cc, cmake+ninja (unless SKIP_BUILD=1).
# Bounded: every wrk run lasts DURATION seconds (+ a 15 s kill timer), the slow test at
# most SLOW_MAX_S seconds. Processes and the temp directory are removed on exit. Exits
# 0 whatever the numbers are (non-zero only when the benchmark could not be set up).
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/bench/server"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNS=${WRK_CONNS:-64}
SLOW_N=${SLOW_N:-10000}
SLOW_RATE=${SLOW_RATE:-50000}
SLOW_CODE=${SLOW_CODE:-162000}
SLOW_MAX_S=${SLOW_MAX_S:-120}
SLOW_ROUNDS=${SLOW_ROUNDS:-3}
# every simulated device connects from 127.0.0.1: the per-address connection limit
# (--max-per-address, default 128) must let all of them in, as distinct addresses would be
PER_ADDR=$((SLOW_N + 1000))
OUT=${OUT:-$ROOT/bench/results/server.md}
LOG_TAG=bench
# shellcheck source=bench/server/lib.sh
. "$HERE/lib.sh" # the set-up instr.sh shares: build, ports, firmware, request, servers

need wrk nginx php curl cc md5sum

# ---- fd limit: as high as the hard limit allows (both the server and slowdl inherit it)
ulimit -Hn 65536 2>/dev/null
ulimit -n "$(ulimit -Hn)" 2>/dev/null
FD_LIMIT=$(ulimit -n)
log "fd limit (ulimit -n) for all processes: $FD_LIMIT"

build_release
cc -O2 -Wall -o "$WORK/slowdl" "$HERE/slowdl.c" || die "cannot compile slowdl.c"
cc -O2 -Wall -pthread -o "$WORK/floor" "$HERE/floor.c" || die "cannot compile floor.c"

# ---- ports ------------------------------------------------------------------------------
pick_port P_UPD
pick_port P_NGX
pick_port P_NGXD
pick_port P_FLR
pick_port P_PHP
pick_port P_PHP2
pick_port P_UPDRO

# ---- firmware files ---------------------------------------------------------------------
make_big_firmware "$WORK/fw-1mib.bin"
"$MKIMAGE" esp8266-app "$WORK/fw-slow.bin" "$SLOW_CODE" 7 >/dev/null || die "mkimage failed"
SLOW_SIZE=$(stat -c %s "$WORK/fw-slow.bin")

# ---- the device requests (device_request: spec section 8, byte for byte) -------------
# a device running the current release (2.0.0 = the 1 MiB image): every server says 304
for p in UPD NGX NGXD FLR PHP PHP2 UPDRO; do
    port_var=P_$p
    device_request /update "127.0.0.1:${!port_var}" 2.0.0 "$BIG_MD5" "$BIG_SIZE" >"$WORK/check-$p.req"
done
# a device on 1.0.0: gets the 1 MiB image (download_request: marked as a tool's device)
download_request /update "127.0.0.1:$P_UPD" >"$WORK/dl-UPD.req"
device_request /firmware.bin "127.0.0.1:$P_NGX" 1.0.0 "$OLD_MD5" 400000 >"$WORK/dl-NGX.req"
device_request /firmware.bin "127.0.0.1:$P_NGXD" 1.0.0 "$OLD_MD5" 400000 >"$WORK/dl-NGXD.req"
device_request /update/slow "127.0.0.1:$P_UPD" 1.0.0 "$OLD_MD5" 400000 >"$WORK/slow.req"

# raw_status PORT REQFILE -> "STATUS CONTENT_LENGTH" of one exchange
raw_status() {
    local out
    out=$(
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        cat "$2" >&3
        timeout 10 head -c 4096 <&3 | tr -d '\r' | sed '/^$/q'
    ) || return 1
    printf '%s %s\n' "$(printf '%s\n' "$out" | head -1 | cut -d' ' -f2)" \
        "$(printf '%s\n' "$out" | grep -i '^content-length:' | head -1 | cut -d' ' -f2)"
}

# ---- servers ----------------------------------------------------------------------------
start_updraft() { # (re)start updraft on P_UPD with the data dir in WORK
    serve_updraft "$P_UPD" "$WORK/updraft-data" "$WORK/updraft.log" 10 --max-per-address "$PER_ADDR"
    UPD_PID=$SERVED_PID
}

start_updraft
BIG_ID=$(upload_release "$P_UPD" "$WORK/fw-1mib.bin" 2.0.0 stable)
# its own version: two builds may not share one
SLOW_ID=$(upload_release "$P_UPD" "$WORK/fw-slow.bin" 2.0.1 slow)
[ -n "$BIG_ID" ] && [ -n "$SLOW_ID" ] || die "release upload failed: $(tail -5 "$WORK/updraft.log")"
download_request "/releases/$BIG_ID/firmware.bin" "127.0.0.1:$P_UPD" >"$WORK/dl-UPDREL.req"
log "updraft on :$P_UPD (pid $UPD_PID), releases $BIG_ID (1 MiB) and $SLOW_ID ($SLOW_SIZE B)"

# updraft-rollout: a second updraft (same binary, own data) whose every check is decided by
# an active rollout (docs/rollouts.md): the 1 MiB release rolled out to every device in one
# wave of 100% (issue 9: the check path must stay as fast with rollouts)
serve_updraft "$P_UPDRO" "$WORK/updraft-ro-data" "$WORK/updraft-ro.log" 10 --max-per-address "$PER_ADDR"
UPDRO_PID=$SERVED_PID
RO_REL=$(upload_release "$P_UPDRO" "$WORK/fw-1mib.bin" 2.0.0)
rollout_to_all "$P_UPDRO" "$RO_REL" ||
    die "the rollout on the second updraft was not created: $(tail -5 "$WORK/updraft-ro.log")"

NGX_DIR="$WORK/nginx"
# sendfile for the downloads; a second server with TCP_DEFER_ACCEPT, which updraft's
# listening sockets have
NGX_FW="default_type application/octet-stream; alias $WORK/fw-1mib.bin;"
nginx_conf "$NGX_DIR" "$(nproc)" 16384 "" "
    sendfile on;
    tcp_nopush on;
    server {
        listen 127.0.0.1:$P_NGX backlog=4096;
        location = /update { return 304; }
        location = /firmware.bin { $NGX_FW }
    }
    server {
        listen 127.0.0.1:$P_NGXD backlog=4096 deferred;
        location = /update { return 304; }
        location = /firmware.bin { $NGX_FW }
    }"
nginx -c "$NGX_DIR/nginx.conf" -g 'daemon off;' >"$NGX_DIR/stdout.log" 2>&1 &
NGX_PID=$!
STARTED+=("$NGX_PID")
wait_port "$P_NGX" || die "nginx did not start: $(cat "$NGX_DIR/error.log")"

start_php() { # PORT WORKERS -> PID in PHP_PID
    (
        cd "$HERE" || exit 1
        if [ "$2" -gt 1 ]; then export PHP_CLI_SERVER_WORKERS=$2; fi
        REF_MAC=$MAC REF_FILE="$WORK/fw-1mib.bin" REF_VERSION=2.0.0 \
            exec php -S "127.0.0.1:$1" reference.php
    ) >"$WORK/php-$1.log" 2>&1 &
    PHP_PID=$!
    STARTED+=("$PHP_PID")
    wait_port "$1" || die "php -S did not start: $(tail -3 "$WORK/php-$1.log")"
}
"$WORK/floor" "$P_FLR" "$(nproc)" >"$WORK/floor.log" 2>&1 &
FLR_PID=$!
STARTED+=("$FLR_PID")
wait_port "$P_FLR" || die "floor did not start: $(cat "$WORK/floor.log")"

start_php "$P_PHP" 1
PHP1_PID=$PHP_PID
start_php "$P_PHP2" 2
PHP2_PID=$PHP_PID
log "nginx on :$P_NGX and :$P_NGXD (deferred) (pid $NGX_PID), floor on :$P_FLR, php -S on :$P_PHP and :$P_PHP2 (2 workers)"

# ---- measuring --------------------------------------------------------------------------
# all pids of a server: the process and its children (nginx workers, php -S workers)
pids_of() { echo "$1 $(pgrep -P "$1" | tr '\n' ' ')"; }
# cpu_ns PIDS... -> "ALL REQUEST": nanoseconds on the CPU so far, summed over every thread
# of the processes (/proc/PID/task/TID/schedstat, first field: exact, kernel time included,
# where utime+stime of /proc/PID/stat count whole 10 ms clock ticks), and over the request
# threads alone (libmicrohttpd's, named MHD-*; for nginx and the others: all threads)
cpu_ns() {
    local tot=0 req=0 p t v
    for p in "$@"; do
        for t in /proc/"$p"/task/*; do
            v=$(cut -d' ' -f1 "$t/schedstat" 2>/dev/null) || continue
            [ -n "$v" ] || continue
            tot=$((tot + v))
            # updraft's own threads: its writer (named "writer" since 49b8630) and the rest
            case $(cat "$t/comm" 2>/dev/null) in updraft* | writer) ;; *) req=$((req + v)) ;; esac
        done
    done
    echo "$tot $req"
}

declare -A RES      # RES[test,server,round]="requests duration_us errors cpu_ns request_threads_cpu_ns"
declare -A SANITY   # SANITY[test,server]="status length"

# wrk_run TEST SERVER PORT REQFILE PID
wrk_run() {
    local test=$1 name=$2 port=$3 req=$4 pid=$5 round=$6 pids c0 c1 line
    pids=$(pids_of "$pid")
    # shellcheck disable=SC2086
    c0=$(cpu_ns $pids)
    line=$(timeout $((DURATION + 15)) wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"${DURATION}s" \
        -s "$HERE/device.lua" "http://127.0.0.1:$port" -- "$req" 2>&1 | grep '^WRK ')
    # shellcheck disable=SC2086
    c1=$(cpu_ns $pids)
    if [ -z "$line" ]; then
        log "$test $name round $round: wrk gave no result"
        return
    fi
    local rq du er
    rq=$(echo "$line" | sed -n 's/.* requests=\([0-9]*\).*/\1/p')
    du=$(echo "$line" | sed -n 's/.* duration_us=\([0-9]*\).*/\1/p')
    er=$(echo "$line" | awk '{s=0; for(i=1;i<=NF;i++) if ($i ~ /^err_/) {split($i,a,"="); s+=a[2]} print s}')
    local cpu=$((${c1% *} - ${c0% *})) cpu_req=$((${c1#* } - ${c0#* }))
    RES[$test,$name,$round]="$rq $du $er $cpu $cpu_req"
    log "$test $name round $round: $(echo "$line" | cut -c5-) cpu_ms=$((cpu / 1000000)) request_threads_cpu_ms=$((cpu_req / 1000000))"
    sleep 1
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# sanity: every server answers the way the benchmark assumes
SANITY[check,updraft]=$(raw_status "$P_UPD" "$WORK/check-UPD.req")
SANITY[check,updraft-rollout]=$(raw_status "$P_UPDRO" "$WORK/check-UPDRO.req")
SANITY[check,nginx]=$(raw_status "$P_NGX" "$WORK/check-NGX.req")
SANITY[check,nginx-deferred]=$(raw_status "$P_NGXD" "$WORK/check-NGXD.req")
SANITY[check,floor]=$(raw_status "$P_FLR" "$WORK/check-FLR.req")
SANITY[check,php]=$(raw_status "$P_PHP" "$WORK/check-PHP.req")
SANITY[check,php-w2]=$(raw_status "$P_PHP2" "$WORK/check-PHP2.req")
SANITY[dl,updraft]=$(raw_status "$P_UPD" "$WORK/dl-UPD.req")
SANITY[dl,updraft-rel]=$(raw_status "$P_UPD" "$WORK/dl-UPDREL.req")
SANITY[dl,nginx]=$(raw_status "$P_NGX" "$WORK/dl-NGX.req")
SANITY[dl,nginx-deferred]=$(raw_status "$P_NGXD" "$WORK/dl-NGXD.req")
for k in "${!SANITY[@]}"; do log "sanity $k: ${SANITY[$k]}"; done

# ---- 1. checks/s ------------------------------------------------------------------------
CHECK_SERVERS="updraft updraft-rollout nginx nginx-deferred floor php php-w2"
for r in $(seq "$ROUNDS"); do
    wrk_run check updraft "$P_UPD" "$WORK/check-UPD.req" "$UPD_PID" "$r"
    wrk_run check updraft-rollout "$P_UPDRO" "$WORK/check-UPDRO.req" "$UPDRO_PID" "$r"
    wrk_run check nginx "$P_NGX" "$WORK/check-NGX.req" "$NGX_PID" "$r"
    wrk_run check nginx-deferred "$P_NGXD" "$WORK/check-NGXD.req" "$NGX_PID" "$r"
    wrk_run check floor "$P_FLR" "$WORK/check-FLR.req" "$FLR_PID" "$r"
    wrk_run check php "$P_PHP" "$WORK/check-PHP.req" "$PHP1_PID" "$r"
    wrk_run check php-w2 "$P_PHP2" "$WORK/check-PHP2.req" "$PHP2_PID" "$r"
done
DROPPED=$(api "http://127.0.0.1:$P_UPD/api/v1" | sed -n 's/.*"dropped_device_records":\([0-9]*\).*/\1/p')

# ---- 2. 1 MiB downloads ------------------------------------------------------------------
DL_SERVERS="updraft updraft-rel nginx nginx-deferred"
for r in $(seq "$ROUNDS"); do
    wrk_run dl updraft "$P_UPD" "$WORK/dl-UPD.req" "$UPD_PID" "$r"
    wrk_run dl updraft-rel "$P_UPD" "$WORK/dl-UPDREL.req" "$UPD_PID" "$r"
    wrk_run dl nginx "$P_NGX" "$WORK/dl-NGX.req" "$NGX_PID" "$r"
    wrk_run dl nginx-deferred "$P_NGXD" "$WORK/dl-NGXD.req" "$NGX_PID" "$r"
done
DROPPED2=$(api "http://127.0.0.1:$P_UPD/api/v1" | sed -n 's/.*"dropped_device_records":\([0-9]*\).*/\1/p')
UPD_RSS_AFTER_LOAD=$(awk '/VmHWM/ {print $2}' "/proc/$UPD_PID/status")

# ---- 4. optional: where updraft's time goes (PROFILE=1; needs perf and strace) ------------
PROFILE_MD=""
if [ -n "${PROFILE:-}" ] && command -v perf >/dev/null && command -v strace >/dev/null; then
    prof_run() { # NAME REQFILE: perf profile of updraft over one wrk run, then strace counts
        local name=$1 req=$2 writer wrkpid
        timeout $((DURATION + 15)) wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"${DURATION}s" \
            -s "$HERE/device.lua" "http://127.0.0.1:$P_UPD" -- "$req" >"$WORK/prof-$name.wrk" 2>&1 &
        wrkpid=$!
        sleep 1
        timeout 30 perf record -F 499 -g -p "$UPD_PID" -o "$WORK/perf-$name.data" \
            -- sleep $((DURATION / 2)) >"$WORK/perf-$name.log" 2>&1
        timeout -s INT 3 strace -f -c -p "$UPD_PID" -o "$WORK/strace-$name.txt" >"$WORK/strace-$name.log" 2>&1
        wait "$wrkpid" 2>/dev/null
        writer=$(grep -lx writer /proc/"$UPD_PID"/task/*/comm 2>/dev/null | head -1 | cut -d/ -f5)
        echo "#### $name"
        echo
        echo "perf samples by thread and library (writer = the device-record writer thread):"
        echo
        echo '```'
        perf script -i "$WORK/perf-$name.data" -F tid,ip,dso -G 2>/dev/null |
            awk -v w="$writer" '{t = ($1 == w) ? "writer" : "http"; d = $NF; gsub(/[()]/, "", d); sub(/.*\//, "", d); c[t " " d]++; n++}
                END {for (k in c) printf "%5.1f%%  %s\n", 100 * c[k] / n, k}' | sort -rn | head -12
        echo '```'
        echo
        echo "top symbols (self time):"
        echo
        echo '```'
        perf report -i "$WORK/perf-$name.data" --no-children --stdio --sort dso,sym -g none 2>/dev/null |
            grep -v '^#' | grep -v '^$' | head -15
        echo '```'
        echo
        echo "system calls of the updraft process for 3 s under the same load (strace -c -f; strace slows the server, so count calls, not time):"
        echo
        echo '```'
        head -22 "$WORK/strace-$name.txt" 2>/dev/null
        echo '```'
        echo
    }
    log "profiling updraft (PROFILE=1)"
    PROFILE_MD=$(
        prof_run check "$WORK/check-UPD.req"
        prof_run download "$WORK/dl-UPD.req"
    )
fi

# ---- 3. slow downloads ------------------------------------------------------------------
# Each round: a fresh updraft process (same data) so its peak RSS belongs to that round.
# The sampler records every 0.25 s: VmRSS, open fds, sockets the process holds,
# established connections on the port, and (system-wide, /proc/net/sockstat) TCP
# orphans (closed by the process, data still queued in the kernel) and TCP kernel memory.
declare -A SL # SL[round,key]
LOG_LINES_BEFORE_SLOW=$(wc -l <"$WORK/updraft.log")
for r in $(seq "$SLOW_ROUNDS"); do
    stop_pid "$UPD_PID"
    start_updraft
    [ "$r" = 1 ] && SLOW_SANITY=$(raw_status "$P_UPD" "$WORK/slow.req")
    sleep 1
    SL[$r,idle]=$(awk '/VmRSS/ {print $2}' "/proc/$UPD_PID/status")
    (
        while kill -0 "$UPD_PID" 2>/dev/null; do
            rss=$(awk '/VmRSS/ {print $2}' "/proc/$UPD_PID/status" 2>/dev/null)
            fds=$(ls "/proc/$UPD_PID/fd" 2>/dev/null | wc -l)
            socks=$(find "/proc/$UPD_PID/fd" -lname 'socket:*' 2>/dev/null | wc -l)
            est=$(ss -Htn state established "( sport = :$P_UPD )" 2>/dev/null | wc -l)
            read -r orphan tcpmem < <(awk '/^TCP:/ {for (i=2;i<NF;i++) {if ($i=="orphan") o=$(i+1); if ($i=="mem") m=$(i+1)} print o, m}' /proc/net/sockstat)
            echo "${rss:-0} $fds $socks $est ${orphan:-0} ${tcpmem:-0}"
            sleep 0.25
        done
    ) >"$WORK/slow-samples-$r.txt" &
    SAMPLER=$!
    STARTED+=("$SAMPLER")
    line=$(timeout $((SLOW_MAX_S + 30)) "$WORK/slowdl" 127.0.0.1 "$P_UPD" "$WORK/slow.req" \
        "$SLOW_N" "$SLOW_RATE" "$SLOW_SIZE" "$SLOW_MAX_S")
    sleep 0.5
    kill "$SAMPLER" 2>/dev/null
    wait "$SAMPLER" 2>/dev/null
    SL[$r,line]=$line
    SL[$r,hwm]=$(awk '/VmHWM/ {print $2}' "/proc/$UPD_PID/status")
    SL[$r,dropped]=$(api "http://127.0.0.1:$P_UPD/api/v1" | sed -n 's/.*"dropped_device_records":\([0-9]*\).*/\1/p')
    read -r "SL[$r,rss]" "SL[$r,fds]" "SL[$r,socks]" "SL[$r,est]" "SL[$r,orphan]" "SL[$r,tcpmem]" < <(awk '
        {for (i=1;i<=6;i++) if ($i+0 > m[i]) m[i]=$i+0} END {print m[1]+0, m[2]+0, m[3]+0, m[4]+0, m[5]+0, m[6]+0}' "$WORK/slow-samples-$r.txt")
    log "slow round $r: $line hwm_kb=${SL[$r,hwm]} held_sockets=${SL[$r,socks]} orphans=${SL[$r,orphan]}"
    sleep 2
done
UPD_ERRLOG=$(tail -n +"$((LOG_LINES_BEFORE_SLOW + 1))" "$WORK/updraft.log" | grep -c 'updraft: http:')
UPD_ERRSAMPLE=$(tail -n +"$((LOG_LINES_BEFORE_SLOW + 1))" "$WORK/updraft.log" | grep 'updraft: http:' |
    sort | uniq -c | sort -rn | head -3)
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- 5. instructions and system calls per check (instr.sh; INSTR=0 leaves it out) -------
INSTR_MD=""
if [ "${INSTR:-1}" != 0 ]; then
    log "instructions per check (bench/server/instr.sh)"
    INSTR_MD=$(SKIP_BUILD=1 OUT='' UPDRAFT="$UPDRAFT" MKIMAGE="$MKIMAGE" "$HERE/instr.sh") ||
        INSTR_MD="(bench/server/instr.sh could not run: see its messages above)"
fi

# ---- report ------------------------------------------------------------------------------
kv() { echo "${SLOW_LINE:-}" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
fmt() { awk -v x="$1" -v d="${2:-0}" 'BEGIN {if (x=="nan" || x=="") print "n/a"; else printf "%.*f", d, x}'; }

# rate TEST SERVER ROUND -> requests per second
rate() {
    local v=${RES[$1,$2,$3]:-}
    [ -n "$v" ] || { echo nan; return; }
    set -- $v
    awk -v n="$1" -v d="$2" 'BEGIN {printf "%.3f\n", n / (d / 1e6)}'
}
errs() { local t=0 r v; for r in $(seq "$ROUNDS"); do v=${RES[$1,$2,$r]:-}; [ -n "$v" ] && t=$((t + $(echo "$v" | cut -d' ' -f3))); done; echo $t; }
# cpu ms per unit: TEST SERVER ROUND UNITS_PER_REQUEST [FIELD: 4 all threads (default), 5
# the request threads]
cpu_per() {
    local v=${RES[$1,$2,$3]:-} f=${5:-4}
    [ -n "$v" ] || { echo nan; return; }
    echo "$v" | awk -v u="$4" -v f="$f" '{if ($1 == 0) print "nan"; else printf "%.6f\n", ($f / 1e6) / ($1 * u)}'
}
med_rate() { local r; for r in $(seq "$ROUNDS"); do rate "$1" "$2" "$r"; done | grep -v nan | median; }
all_rates() { local r out=""; for r in $(seq "$ROUNDS"); do out="$out$(fmt "$(rate "$1" "$2" "$r")" "${3:-0}"), "; done; echo "${out%, }"; }
med_cpu() { local r; for r in $(seq "$ROUNDS"); do cpu_per "$1" "$2" "$r" "$3" "${4:-4}"; done | grep -v nan | median; }
all_cpu() { local r out=""; for r in $(seq "$ROUNDS"); do out="$out$(fmt "$(cpu_per "$1" "$2" "$r" "$3")" 3), "; done; echo "${out%, }"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b+0 == 0 || a=="nan" || b=="nan") print "n/a"; else printf "%.2f", a / b}'; }
goal() { # VALUE OP LIMIT
    awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {if (v=="n/a") {print "n/a"; exit}
        ok = (op == ">=") ? (v >= l) : (op == "<=") ? (v <= l) : (v < l); print ok ? "met" : "MISSED"}'
}

MIB_PER_REQ=$(awk -v s="$BIG_SIZE" 'BEGIN {printf "%.6f", s / 1048576}')
declare -A CHK DLR CPUC CPUD CPUDR
for s in $CHECK_SERVERS; do
    CHK[$s]=$(med_rate check "$s")
    CPUC[$s]=$(med_cpu check "$s" 0.001) # ms per 1000 checks
done
for s in $DL_SERVERS; do
    DLR[$s]=$(awk -v r="$(med_rate dl "$s")" -v m="$MIB_PER_REQ" 'BEGIN {if (r=="nan") print "nan"; else printf "%.3f", r * m}')
    CPUD[$s]=$(med_cpu dl "$s" "$MIB_PER_REQ")
    CPUDR[$s]=$(med_cpu dl "$s" "$MIB_PER_REQ" 5) # the request threads'
done
R_NGX=$(ratio "${CHK[updraft]}" "${CHK[nginx]}")
R_RO_NGX=$(ratio "${CHK[updraft-rollout]}" "${CHK[nginx]}")
R_RO_CPU=$(ratio "${CPUC[updraft-rollout]}" "${CPUC[updraft]}")
R_NGXD=$(ratio "${CHK[updraft]}" "${CHK[nginx-deferred]}")
R_FLR_PHP=$(ratio "${CHK[floor]}" "${CHK[php]}")
R_FLR_PHP2=$(ratio "${CHK[floor]}" "${CHK[php-w2]}")
R_UPD_FLR=$(ratio "${CHK[updraft]}" "${CHK[floor]}")
R_PHP=$(ratio "${CHK[updraft]}" "${CHK[php]}")
R_PHP2=$(ratio "${CHK[updraft]}" "${CHK[php-w2]}")
R_DL=$(ratio "${DLR[updraft]}" "${DLR[nginx]}")
R_DLREL=$(ratio "${DLR[updraft-rel]}" "${DLR[nginx]}")
R_DLD=$(ratio "${DLR[updraft]}" "${DLR[nginx-deferred]}")
R_CPUD=$(ratio "${CPUD[updraft]}" "${CPUD[nginx-deferred]}")
R_CPU=$(ratio "${CPUD[updraft]}" "${CPUD[nginx]}")
R_CPUREL=$(ratio "${CPUD[updraft-rel]}" "${CPUD[nginx]}")
mb() { awk -v k="$1" 'BEGIN {if (k == "") print "n/a"; else printf "%.1f", k / 1024}'; }
SLOW_HWM_MAX=0
SLOW_FAILED_SUM=0
for r in $(seq "$SLOW_ROUNDS"); do
    [ "${SL[$r,hwm]:-0}" -gt "$SLOW_HWM_MAX" ] && SLOW_HWM_MAX=${SL[$r,hwm]}
    f=$(echo "${SL[$r,line]}" | tr ' ' '\n' | sed -n 's/^failed=//p')
    SLOW_FAILED_SUM=$((SLOW_FAILED_SUM + ${f:-$SLOW_N}))
done

mkdir -p "$(dirname "$OUT")"
{
    echo "# Server benchmark results"
    echo
    echo "Written by \`bench/server/run.sh\` (method: docs/benchmarks.md, \"Server benchmarks\")."
    echo "Do not edit by hand: run the script again."
    echo
    echo "| | |"
    echo "|---|---|"
    echo "| date | $(date -u '+%Y-%m-%d %H:%M UTC') |"
    echo "| machine | $(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, Linux $(uname -r) |"
    echo "| load average before / after | $LOAD_BEFORE / $LOAD_AFTER (other jobs share the machine) |"
    echo "| updraft | $(cd "$ROOT" && git describe --always --dirty 2>/dev/null), release build, $("$UPDRAFT" --version 2>/dev/null | head -1) libmicrohttpd $(dpkg-query -W -f '${Version}' 'libmicrohttpd12*' 2>/dev/null | head -c 40) |"
    echo "| nginx | $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(nproc) workers, sendfile on, tcp_nopush on, access_log off |"
    echo "| php | $(php -r 'echo PHP_VERSION;') \`php -S\` (one process; and PHP_CLI_SERVER_WORKERS=2) |"
    echo "| wrk | $(wrk -v 2>&1 | head -1 | cut -d' ' -f2) \`-t$WRK_THREADS -c$WRK_CONNS -d${DURATION}s\`, $ROUNDS rounds, servers alternating; wrk runs on the same CPUs |"
    echo "| fd limit | \`ulimit -n\` = $FD_LIMIT for the servers and the clients (the hard limit here) |"
    echo
    echo "Every request is the ESP8266 request of spec section 8 byte for byte: HTTP/1.0,"
    echo "\`Connection: close\`, so each check and each download is a new TCP connection."
    echo
    echo "## 1. Checks per second (device on the current release: 304)"
    echo
    echo "| server | checks/s (median) | each round | server CPU ms per 1000 checks | checks per server CPU-second | wrk errors |"
    echo "|---|---:|---|---:|---:|---:|"
    for s in $CHECK_SERVERS; do
        echo "| $s | $(fmt "${CHK[$s]}") | $(all_rates check "$s") | $(fmt "${CPUC[$s]}" 1) | $(awk -v c="${CPUC[$s]}" 'BEGIN {if (c=="nan" || c+0==0) print "n/a"; else printf "%.0f", 1e6 / c}') | $(errs check "$s") |"
    done
    echo
    echo "updraft-rollout: a second updraft (same binary) whose checks are all decided by an"
    echo "active rollout (the release rolled out to every device, one wave of 100%)."
    echo "nginx-deferred: the same nginx on a second port with \`listen ... deferred\`"
    echo "(TCP_DEFER_ACCEPT, which updraft's listening sockets have: the fair comparison)."
    echo "floor: bench/server/floor.c, $(nproc) epoll threads that accept, read to the blank"
    echo "line, write a fixed 304 and close: no HTTP parsing at all, the least any server can"
    echo "do per check here (what the kernel's connection handling allows)."
    echo
    echo "Answers checked before the runs (status, Content-Length): updraft \`${SANITY[check,updraft]}\`,"
    echo "updraft-rollout \`${SANITY[check,updraft-rollout]}\`,"
    echo "nginx \`${SANITY[check,nginx]}\`, nginx-deferred \`${SANITY[check,nginx-deferred]}\`,"
    echo "floor \`${SANITY[check,floor]}\`, php \`${SANITY[check,php]}\`, php-w2 \`${SANITY[check,php-w2]}\`."
    echo "updraft device records dropped by its writer queue during the check runs: ${DROPPED:-n/a}."
    echo
    echo "| goal | measured | |"
    echo "|---|---:|---|"
    echo "| updraft >= 1.0x nginx | ${R_NGX}x | $(goal "$R_NGX" ">=" 1.0) |"
    echo "| updraft >= 1.0x nginx with \`deferred\` | ${R_NGXD}x | $(goal "$R_NGXD" ">=" 1.0) |"
    echo "| updraft with an active rollout >= 1.0x nginx | ${R_RO_NGX}x | $(goal "$R_RO_NGX" ">=" 1.0) |"
    echo "| CPU per check with an active rollout <= 1.1x without | ${R_RO_CPU}x | $(goal "$R_RO_CPU" "<=" 1.1) |"
    echo "| updraft >= 0.85x the floor server (issue 13) | ${R_UPD_FLR}x | $(goal "$R_UPD_FLR" ">=" 0.85) |"
    echo "| updraft >= 2x PHP (\`php -S\`, one process; issue 13) | ${R_PHP}x | $(goal "$R_PHP" ">=" 2) |"
    echo
    echo "The first wave's goal of 20x PHP (2-worker PHP: updraft ${R_PHP2}x) is restated by issue 13"
    echo "as the two rows above: the floor itself is ${R_FLR_PHP}x PHP (${R_FLR_PHP2}x the 2-worker PHP):"
    echo "with a new TCP connection per check (the device's HTTP/1.0 + Connection: close), no"
    echo "server can be 20x PHP on this machine."
    echo
    echo "Per server CPU-second (capacity when the server has the CPUs to itself): updraft"
    echo "does $(ratio "${CPUC[nginx]}" "${CPUC[updraft]}")x the checks of nginx and $(ratio "${CPUC[php]}" "${CPUC[updraft]}")x those of PHP."
    echo
    echo "## 2. 1 MiB downloads (device on an older version: 200 with the image)"
    echo
    echo "Image: $BIG_SIZE bytes. updraft = \`GET /update\` (policy decision, then the blob);"
    echo "updraft-rel = \`GET /releases/$BIG_ID/firmware.bin\` (same headers); nginx = static file."
    echo
    echo "| server | MiB/s (median) | each round (downloads/s) | server CPU ms per MiB (median) | each round | of which request threads | the rest (updraft: its writer) | wrk errors |"
    echo "|---|---:|---|---:|---|---:|---:|---:|"
    for s in $DL_SERVERS; do
        echo "| $s | $(fmt "${DLR[$s]}" 1) | $(all_rates dl "$s" 1) | $(fmt "${CPUD[$s]}" 3) | $(all_cpu dl "$s" "$MIB_PER_REQ") | $(fmt "${CPUDR[$s]}" 3) | $(awk -v a="${CPUD[$s]}" -v r="${CPUDR[$s]}" 'BEGIN {if (a == "nan" || r == "nan") print "n/a"; else printf "%.3f", a - r}') | $(errs dl "$s") |"
    done
    echo
    echo "Server CPU: the time on the CPU of every thread of the server's processes (nginx's"
    echo "workers included) over each wrk run, from /proc/PID/task/TID/schedstat (nanoseconds,"
    echo "kernel time included: sendfile and, on loopback, part of the TCP work of both ends);"
    echo "request threads: libmicrohttpd's and the download senders (updraft), every thread (nginx). The rest is"
    echo "updraft's device-record writer putting each download's records into SQLite."
    echo
    echo "updraft sends a plain-HTTP file body itself (src/server/filesend.c, docs/architecture.md"
    echo "\"The download path\"): the header, then as much of the rest of the file per \`sendfile()\`"
    echo "as the socket takes, as nginx does; libmicrohttpd sends HEAD and HTTPS answers."
    echo
    echo "Answers checked before the runs: updraft \`${SANITY[dl,updraft]}\`, updraft-rel"
    echo "\`${SANITY[dl,updraft-rel]}\`, nginx \`${SANITY[dl,nginx]}\`, nginx-deferred \`${SANITY[dl,nginx-deferred]}\`. Dropped device records after"
    echo "the download runs: ${DROPPED2:-n/a}. updraft peak RSS over sections 1-2: $(awk -v k="$UPD_RSS_AFTER_LOAD" 'BEGIN {printf "%.1f", k/1024}') MB."
    echo
    echo "| goal | measured | |"
    echo "|---|---:|---|"
    echo "| throughput >= 0.9x nginx (/update) | ${R_DL}x | $(goal "$R_DL" ">=" 0.9) |"
    echo "| throughput >= 0.9x nginx (/releases/) | ${R_DLREL}x | $(goal "$R_DLREL" ">=" 0.9) |"
    echo "| CPU per MiB <= 1.35x nginx (/update; issue 13) | ${R_CPU}x nginx | $(goal "$R_CPU" "<=" 1.35) |"
    echo "| CPU per MiB <= 1.1x nginx (/releases/; issue 13) | ${R_CPUREL}x nginx | $(goal "$R_CPUREL" "<=" 1.1) |"
    echo "| throughput >= 0.9x nginx with \`deferred\` (/update) | ${R_DLD}x | $(goal "$R_DLD" ">=" 0.9) |"
    echo "| CPU per MiB <= 1.35x nginx with \`deferred\` (/update) | ${R_CPUD}x nginx | $(goal "$R_CPUD" "<=" 1.35) |"
    echo
    echo "Request threads alone (without the writer): /update $(ratio "${CPUDR[updraft]}" "${CPUDR[nginx]}")x nginx, /releases/ $(ratio "${CPUDR[updraft-rel]}" "${CPUDR[nginx]}")x."
    echo
    echo "## 3. $SLOW_N concurrent slow downloads"
    echo
    echo "slowdl: $SLOW_N connections opened at 100 per 10 ms, each reading at $SLOW_RATE bytes/s"
    echo "(8 KB steps, SO_RCVBUF 16 KB, MSS 1460) a $SLOW_SIZE-byte release via \`GET /update/slow\`;"
    echo "a freshly started updraft for each of $SLOW_ROUNDS rounds (default options: connection"
    echo "limit 16384, timeout 90 s; but \`--max-per-address $PER_ADDR\`, as every device connects"
    echo "from 127.0.0.1 here). First answer: \`$SLOW_SANITY\`. Peaks are of the 0.25 s samples"
    echo "except VmHWM (the kernel's high-water mark of the process's RSS)."
    echo
    echo "| round | completed | failures | all opened after | download avg / max | server RSS idle -> peak (VmHWM) | server fds / sockets held, peak | established, peak | TCP orphans, peak (system) | kernel TCP memory, peak | device records dropped |"
    echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for r in $(seq "$SLOW_ROUNDS"); do
        SLOW_LINE=${SL[$r,line]}
        fk=""
        for k in connect send reset status header magic short long unfinished; do
            v=$(kv "fail_$k")
            [ "${v:-0}" != 0 ] && fk="$fk $k $v,"
        done
        fk=${fk%,}
        echo "| $r | $(kv completed) of $(kv connections) | $(kv failed)${fk:+ (${fk# })} | $(kv all_opened_s) s | $(kv avg_download_s) / $(kv max_download_s) s | $(mb "${SL[$r,idle]}") -> $(mb "${SL[$r,hwm]}") MB | ${SL[$r,fds]} / ${SL[$r,socks]} | ${SL[$r,est]} | ${SL[$r,orphan]} | $(awk -v p="${SL[$r,tcpmem]}" 'BEGIN {printf "%.0f MB", p * 4096 / 1048576}') | ${SL[$r,dropped]:-n/a} |"
    done
    echo
    echo "Ideal download time: $(awk -v s="$SLOW_SIZE" -v r="$SLOW_RATE" 'BEGIN {printf "%.2f", s / r}') s. fd limit $FD_LIMIT. libmicrohttpd errors logged during these rounds: $UPD_ERRLOG."
    if [ -n "$UPD_ERRSAMPLE" ]; then
        echo "Most frequent server log lines:"
        echo
        echo '```'
        echo "$UPD_ERRSAMPLE"
        echo '```'
    fi
    echo
    echo "| goal | measured (worst round) | |"
    echo "|---|---:|---|"
    echo "| peak RSS < 64 MB | $(mb "$SLOW_HWM_MAX") MB | $(goal "$(mb "$SLOW_HWM_MAX")" "<" 64) |"
    echo "| 0 failures | $SLOW_FAILED_SUM | $( [ "$SLOW_FAILED_SUM" = 0 ] && echo met || echo MISSED) |"
    if [ -n "$PROFILE_MD" ]; then
        echo
        echo "## 4. Where updraft's time goes (PROFILE=1)"
        echo
        echo "perf (\`perf record -g -F 499\` for $((DURATION / 2)) s of a wrk run as in sections 1 and 2) and strace."
        echo
        echo "$PROFILE_MD"
    fi
    if [ -n "$INSTR_MD" ]; then
        echo
        echo "## 5. Instructions and system calls per check (bench/server/instr.sh)"
        echo
        echo "$INSTR_MD" | sed '1{/^## /d}'
    fi
} >"$OUT.tmp" && mv "$OUT.tmp" "$OUT"
log "results written to $OUT"
cat "$OUT"
exit 0
