#!/usr/bin/env bash
# Instructions and system calls per device check (issue 9): the same "no update" check
# as run.sh section 1 (the ESP8266 request of spec section 8: HTTP/1.0, Connection:
# close, a new TCP connection each), sent one at a time by seqcheck.c, to
#
#   updraft           the release is the channel's current one (policy: channel)
#   updraft-rollout   the release reaches the device through an active rollout (one wave
#                     of 100%, not on any channel: every check is decided by the rollout)
#   updraft-fleet, updraft-rollout-fleet  the same two with DEVICES devices (a MAC each)
#                     instead of one: each checks in once unmeasured (its registration),
#                     then the N measured checks go round them, as a fleet's checks do (one
#                     device's checks share the writer's batches and the device cache: a
#                     fleet's each read the device's row from the database and write it)
#   nginx             `return 304;`, one process (master_process off), no access log
#
# and per 1 MiB download (issue 13: download CPU per MiB against nginx), DL_N downloads
# one after the other by a device on an older version (run.sh section 2's request), to
#
#   updraft-dl        GET /update: the policy's offer, then the release's blob (sendfile)
#   updraft-dl-fleet  the same as updraft-dl from DL_N devices (a MAC each), each downloading
#                     once: a fleet's first download of a release (updraft-dl's one device
#                     downloads again and again and never installs, so each of its check-ins
#                     also records that the last download failed)
#   updraft-rel-dl    GET /releases/<id>/firmware.bin: the blob without a decision
#   nginx-dl          the same file, static, sendfile on, tcp_nopush on, one process
#
# For the downloads a third figure: the server's CPU time per download without valgrind
# or strace (the sum over its threads of /proc/PID/task/TID/schedstat's first field,
# nanoseconds on the CPU, kernel included: what a download costs in sendfile and TCP),
# split into the request threads and the rest (updraft's writer). Unlike instructions
# it moves with the load of the machine: compare the servers within one run.
#
# Instructions: each server runs under valgrind --tool=callgrind; after WARM checks the
# counters are zeroed (callgrind_control -z), N checks go through, and the counters are
# dumped (callgrind_control -d): user-space instructions of every thread of the server
# (the writer thread's database work included) over exactly N checks, divided by N.
# Unlike checks/s or CPU time this does not depend on what else runs on the machine;
# it does not see the kernel's work (accept, read, write, close), which is the same
# few system calls for every server: those are counted separately, with strace -c -f
# over N checks of the server running normally.
#
# Usage: bench/server/instr.sh    (about 4 minutes)
# Settings (environment): N=2000 WARM=200 DEVICES=10000 DL_N=500 SKIP_BUILD=1 (use build/release as it is)
#   SERVERS="updraft updraft-rollout updraft-fleet updraft-rollout-fleet nginx" (a subset while iterating; the ratios need nginx)
#   DL_SERVERS="updraft-dl updraft-dl-fleet updraft-rel-dl nginx-dl" (the same for the downloads; '' leaves them out)
#   OUT=bench/results/instr.md ('' : do not write) UPDRAFT=... MKIMAGE=... KEEP_WORK=1
# Needs: valgrind (callgrind_control), strace, nginx, curl, cc.
# Exits 0 whatever the numbers (non-zero only when it could not set a server up).
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/bench/server"
N=${N:-2000}
WARM=${WARM:-200}
DEVICES=${DEVICES:-10000}
DL_N=${DL_N:-500}
OUT=${OUT-$ROOT/bench/results/instr.md}
LOG_TAG=instr
# shellcheck source=bench/server/lib.sh
. "$HERE/lib.sh" # the set-up run.sh shares: build, ports, firmware, request, servers

need valgrind callgrind_control strace nginx curl cc md5sum
build_release
cc -O2 -Wall -o "$WORK/seqcheck" "$HERE/seqcheck.c" || die "cannot compile seqcheck.c"

make_big_firmware "$WORK/fw.bin"

# start_server NAME VALGRIND(0|1): starts NAME on a fresh port (PORT), its pid in PID
start_server() {
    local name=$1 vg=() wait_s=10
    pick_port PORT
    if [ "$2" = 1 ]; then
        vg=(valgrind --tool=callgrind --vgdb=yes --separate-threads=yes
            --callgrind-out-file="$WORK/cg-$name.%p")
        wait_s=120
    fi
    case $name in
    updraft*)
        rm -rf "$WORK/data-$name"
        SERVE_WRAPPER=("${vg[@]}")
        serve_updraft "$PORT" "$WORK/data-$name" "$WORK/$name.log" "$wait_s"
        SERVE_WRAPPER=()
        PID=$SERVED_PID
        ;;
    nginx*)
        local d="$WORK/nginx-$PORT"
        # as run.sh's nginx: sendfile, tcp_nopush (a download's header and body corked)
        nginx_conf "$d" 1 1024 "daemon off;
master_process off;" "
    sendfile on;
    tcp_nopush on;
    server {
        listen 127.0.0.1:$PORT;
        location = /update { return 304; }
        location = /firmware.bin { default_type application/octet-stream; alias $WORK/fw.bin; }
    }"
        "${vg[@]}" nginx -c "$d/nginx.conf" >>"$WORK/$name.log" 2>&1 &
        PID=$!
        STARTED+=("$PID")
        wait_port "$PORT" "$wait_s" || die "$name did not start: $(tail -5 "$WORK/$name.log")"
        ;;
    esac
    # a device running the release (run.sh's check request); a device on an older version
    # (run.sh's download request) for the -dl servers
    device_request /update "127.0.0.1:$PORT" 2.0.0 "$BIG_MD5" "$BIG_SIZE" >"$WORK/check-$name.req"
    local id
    case $name in
    updraft | updraft-fleet | updraft-dl | updraft-dl-fleet | updraft-rel-dl)
        id=$(upload_release "$PORT" "$WORK/fw.bin" 2.0.0 stable)
        [ -n "$id" ] || die "release upload failed: $(tail -5 "$WORK/$name.log")"
        ;;
    updraft-rollout*)
        rollout_to_all "$PORT" "$(upload_release "$PORT" "$WORK/fw.bin" 2.0.0)" ||
            die "the rollout was not created: $(tail -5 "$WORK/$name.log")"
        ;;
    esac
    case $name in
    updraft-dl | updraft-dl-fleet) download_request /update "127.0.0.1:$PORT" >"$WORK/check-$name.req" ;;
    updraft-rel-dl) download_request "/releases/$id/firmware.bin" "127.0.0.1:$PORT" >"$WORK/check-$name.req" ;;
    nginx-dl) download_request /firmware.bin "127.0.0.1:$PORT" >"$WORK/check-$name.req" ;;
    esac
}

# the answer each server gives, and that it is the one measured (seqcheck checks 304 too)
answer() { # PORT REQFILE
    (
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        cat "$2" >&3
        timeout 30 cat <&3 | tr -d '\r' | sed -n '1p; /^X-Updraft-Reason:/p' | paste -sd' '
    )
}
# the same for a download: status line and Content-Length
dl_answer() { # PORT REQFILE
    (
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        cat "$2" >&3
        timeout 30 cat <&3 | tr -d '\r' | sed -n '1p; /^[Cc]ontent-[Ll]ength:/p; /^$/q' | paste -sd' '
    )
}

# cpu_ns PID -> "ALL REQUEST": nanoseconds on the CPU so far of all the process's threads,
# and of its request threads (libmicrohttpd's, named MHD-*, and the download senders,
# filesend; nginx: all of them)
cpu_ns() {
    local t tot=0 req=0 v
    for t in /proc/"$1"/task/*; do
        v=$(cut -d' ' -f1 "$t/schedstat" 2>/dev/null) || continue
        tot=$((tot + v))
        case $(cat "$t/comm" 2>/dev/null) in MHD* | filesend* | nginx*) req=$((req + v)) ;; esac
    done
    echo "$tot $req"
}

declare -A IR SYS SYS_TOP OBJ TOP WTOP ANS CPU
# measure NAME COUNT WARM STATUS DEVICES [WARM_DEVICES]: instructions (callgrind) and system
# calls (strace) per request over COUNT requests of NAME after WARM unmeasured ones (from
# WARM_DEVICES devices, default DEVICES), each answered STATUS; for a download (STATUS 200)
# also the CPU time per request without either (CPU[NAME]: "ALL REQUEST" microseconds)
measure() {
    local name=$1 count=$2 warm=$3 status=$4 devs=$5 wdevs=${6:-$5} what=check
    [ "$status" = 200 ] && what=download
    # ---- instructions (callgrind) ----
    start_server "$name" 1
    if [ "$status" = 200 ]; then
        ANS[$name]=$(dl_answer "$PORT" "$WORK/check-$name.req")
    else
        ANS[$name]=$(answer "$PORT" "$WORK/check-$name.req")
    fi
    "$WORK/seqcheck" "$PORT" "$WORK/check-$name.req" "$warm" "$status" "$wdevs" >/dev/null ||
        die "$name: the warm-up ${what}s did not all get a $status (${ANS[$name]})"
    callgrind_control -z "$PID" >/dev/null 2>&1 || die "callgrind_control -z $PID failed"
    rm -f "$WORK/cg-$name.$PID".*
    "$WORK/seqcheck" "$PORT" "$WORK/check-$name.req" "$count" "$status" "$devs" >/dev/null ||
        die "$name: not every measured $what got a $status"
    callgrind_control -d "$PID" >/dev/null 2>&1 || die "callgrind_control -d $PID failed"
    ls "$WORK/cg-$name.$PID".* >/dev/null 2>&1 || die "$name: no callgrind dump"
    awk -v n="$count" -f "$HERE/cgsum.awk" "$WORK/cg-$name.$PID".* >"$WORK/sum-$name.txt"
    for role in request writer background; do
        IR[$name,$role]=$(awk -v r="$role" '$1 == "role" && $2 == r {print $3}' "$WORK/sum-$name.txt")
        IR[$name,$role]=${IR[$name,$role]:-0}
    done
    IR[$name]=$((IR[$name,request] + IR[$name,writer] + IR[$name,background]))
    OBJ[$name]=$(awk '$1 == "obj" && $3 > 0 {print $3, $2}' "$WORK/sum-$name.txt" | sort -rn |
        awk '{printf "%s%s %s", sep, $2, $1; sep = ", "}')
    TOP[$name]=$(awk '$1 == "fn" {$1 = ""; print}' "$WORK/sum-$name.txt" | sort -rn | head -15 |
        awk '{printf "%8d  ", $1; $1 = ""; print substr($0, 2)}')
    WTOP[$name]=$(awk '$1 == "wfn" {$1 = ""; print}' "$WORK/sum-$name.txt" | sort -rn | head -12 |
        awk '{printf "%8d  ", $1; $1 = ""; print substr($0, 2)}')
    stop_pid "$PID" 30
    log "$name: ${IR[$name]} instructions per $what: request threads ${IR[$name,request]} (${OBJ[$name]}), writer ${IR[$name,writer]}, other threads ${IR[$name,background]}"

    # ---- CPU time (downloads), then system calls (strace -c -f), the server running normally ----
    start_server "$name" 0
    "$WORK/seqcheck" "$PORT" "$WORK/check-$name.req" "$warm" "$status" "$wdevs" >/dev/null ||
        die "$name: the warm-up ${what}s did not all get a $status"
    if [ "$status" = 200 ]; then
        local a b
        a=$(cpu_ns "$PID")
        "$WORK/seqcheck" "$PORT" "$WORK/check-$name.req" "$count" "$status" "$devs" >/dev/null ||
            die "$name: not every $what got a $status"
        sleep 0.2 # the writer's batch of the last ones (it gathers for 50 ms)
        b=$(cpu_ns "$PID")
        CPU[$name]=$(awk -v a="$a" -v b="$b" -v n="$count" 'BEGIN {split(a, x, " "); split(b, y, " ")
            printf "%.1f %.1f", (y[1] - x[1]) / n / 1000, (y[2] - x[2]) / n / 1000}')
        log "$name: CPU per $what (us, all threads / request threads): ${CPU[$name]}"
    fi
    strace -f -c -p "$PID" -o "$WORK/strace-$name.txt" 2>"$WORK/strace-$name.log" &
    SPID=$!
    STARTED+=("$SPID")
    sleep 1
    "$WORK/seqcheck" "$PORT" "$WORK/check-$name.req" "$count" "$status" "$devs" >/dev/null ||
        die "$name: not every $what under strace got a $status"
    sleep 0.5
    kill -INT "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
    calls=$(awk '$NF == "total" {print $4 + 0}' "$WORK/strace-$name.txt") # % seconds usecs/call calls [errors] name
    SYS[$name]=$(awk -v c="${calls:-0}" -v n="$count" 'BEGIN {printf "%.1f", c / n}')
    SYS_TOP[$name]=$(awk -v n="$count" 'NR > 2 && $NF != "total" && $1 !~ /^-/ {printf "%s %.2f\n", $NF, $4 / n}' "$WORK/strace-$name.txt" |
        sort -k2 -rn | awk '$2 >= 0.01 {printf "%s%s %s", sep, $1, $2; sep = ", "}')
    stop_pid "$PID" 30
    log "$name: ${SYS[$name]} system calls per $what (${SYS_TOP[$name]})"
}

SERVERS=${SERVERS-updraft updraft-rollout updraft-fleet updraft-rollout-fleet nginx}
DL_SERVERS=${DL_SERVERS-updraft-dl updraft-dl-fleet updraft-rel-dl nginx-dl}
for name in $SERVERS; do
    case $name in
    *-fleet) measure "$name" "$N" "$DEVICES" 304 "$DEVICES" ;;
    *) measure "$name" "$N" "$WARM" 304 1 ;;
    esac
done
# the fleet's devices each download once in every measured run: a run's DL_N devices are new
# to the server started for it (the warm-up comes from the one device of updraft-dl)
for name in $DL_SERVERS; do
    case $name in
    *-fleet) measure "$name" "$DL_N" 20 200 "$DL_N" 1 ;;
    *) measure "$name" "$DL_N" 20 200 1 ;;
    esac
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b + 0 == 0 || a == "") print "n/a"; else printf "%.2f", a / b}'; }
cpu_of() { echo "${CPU[$1]:-}" | cut -d' ' -f"$2"; }
REPORT=$(
    [ -n "$SERVERS" ] || exec 1>/dev/null # no check rows: the downloads' section only
    echo "## Instructions and system calls per check"
    echo
    echo "Written by \`bench/server/instr.sh\` ($(date -u '+%Y-%m-%d %H:%M UTC'), updraft"
    echo "$(cd "$ROOT" && git describe --always --dirty 2>/dev/null), $(valgrind --version), $(nginx -v 2>&1 | sed 's/^nginx version: //'))."
    echo "$N checks one after the other (seqcheck.c), each a new connection, after $WARM"
    echo "unmeasured ones (the -fleet rows: $DEVICES devices, each checked in once"
    echo "unmeasured, then the $N checks go round them). Instructions: user space, per thread of the server process"
    echo "(callgrind --separate-threads): the threads that answer requests; updraft's writer"
    echo "thread, which records the checks in the database in batches (with one device a"
    echo "batch shrinks to one row, and how many batches there are depends on timing: the"
    echo "column that varies from run to run); its other threads (timers). The kernel's side of"
    echo "each connection is in the system calls column (strace -c -f, a separate run)."
    echo
    echo "| server | request threads | x nginx | writer | other threads | total | x nginx | system calls | answer |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
    for s in $SERVERS; do
        echo "| $s | ${IR[$s,request]} | $(ratio "${IR[$s,request]}" "${IR[nginx,request]:-}") | ${IR[$s,writer]} | ${IR[$s,background]} | ${IR[$s]} | $(ratio "${IR[$s]}" "${IR[nginx]:-}") | ${SYS[$s]} | \`${ANS[$s]}\` |"
    done
    echo
    echo "(instructions and system calls per check)"
    if [ -n "${IR[updraft]:-}" ] && [ -n "${IR[updraft-rollout]:-}" ]; then
        echo
        echo "An active rollout: $(ratio "${IR[updraft-rollout,request]}" "${IR[updraft,request]}")x the request threads' instructions of the channel's check"
        echo "($(ratio "${IR[updraft-rollout]}" "${IR[updraft]}")x in total)."
    fi
    for pair in "updraft updraft-fleet" "updraft-rollout updraft-rollout-fleet"; do
        set -- $pair
        [ -n "${IR[$1]:-}" ] && [ -n "${IR[$2]:-}" ] || continue
        echo
        echo "A fleet ($2, $DEVICES devices in turn) against one device checking again and again ($1):"
        echo "$(ratio "${IR[$2,request]}" "${IR[$1,request]}")x the request threads' instructions per check,"
        echo "$(ratio "${IR[$2,writer]}" "${IR[$1,writer]}")x the writer's, $(ratio "${IR[$2]}" "${IR[$1]}")x in total."
    done
    echo
    echo "Request threads' instructions per check by object (self):"
    echo
    for s in $SERVERS; do echo "- $s: ${OBJ[$s]}"; done
    echo
    echo "System calls per check by name:"
    echo
    for s in $SERVERS; do echo "- $s: ${SYS_TOP[$s]}"; done
    for s in $SERVERS; do
        [ "$s" = updraft ] && continue
        echo
        echo "Top functions of $s's request threads (self instructions per check):"
        echo
        echo '```'
        echo "${TOP[$s]}"
        echo '```'
    done
)
DL_REPORT=$(
    [ -n "$DL_SERVERS" ] || exit 0
    echo "## Instructions, system calls and CPU time per 1 MiB download"
    echo
    echo "Written by \`bench/server/instr.sh\` ($(date -u '+%Y-%m-%d %H:%M UTC'), updraft"
    echo "$(cd "$ROOT" && git describe --always --dirty 2>/dev/null), load average $(cut -d' ' -f1-3 /proc/loadavg))."
    echo "$DL_N downloads of the $BIG_SIZE-byte release one after the other (seqcheck.c, each"
    echo "answer read to its end and its status checked), each a new connection, by a device"
    echo "on an older version (run.sh section 2's request), after 20 unmeasured ones."
    echo "updraft-dl: \`GET /update\` (the policy's offer, then the blob), one device that"
    echo "downloads again and again and never installs (each of its check-ins also records"
    echo "that the last download failed); updraft-dl-fleet: the same from $DL_N devices that"
    echo "download once each, new to the server; updraft-rel-dl:"
    echo "\`GET /releases/<id>/firmware.bin\`; nginx-dl: the same file, static, \`sendfile on\`,"
    echo "\`tcp_nopush on\`, one process. Instructions and system calls as for the checks"
    echo "(user space under callgrind; strace -c -f in a separate run). CPU: the server's time"
    echo "on the CPU per download in a run without either (/proc/PID/task/*/schedstat, kernel"
    echo "included: sendfile and the loopback TCP of both ends), all threads and the request"
    echo "threads alone; it moves with the machine's load, the instructions do not."
    echo
    echo "| server | request threads | writer | other threads | total | x nginx | system calls | x nginx | CPU us (all threads) | x nginx | CPU us (request threads) | answer |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    for s in $DL_SERVERS; do
        echo "| $s | ${IR[$s,request]} | ${IR[$s,writer]} | ${IR[$s,background]} | ${IR[$s]} | $(ratio "${IR[$s]}" "${IR[nginx-dl]:-}") | ${SYS[$s]} | $(ratio "${SYS[$s]}" "${SYS[nginx-dl]:-}") | $(cpu_of "$s" 1) | $(ratio "$(cpu_of "$s" 1)" "$(cpu_of nginx-dl 1)") | $(cpu_of "$s" 2) | \`${ANS[$s]}\` |"
    done
    echo
    echo "(instructions, system calls and CPU microseconds per download)"
    echo
    echo "Request threads' instructions per download by object (self):"
    echo
    for s in $DL_SERVERS; do echo "- $s: ${OBJ[$s]}"; done
    echo
    echo "System calls per download by name:"
    echo
    for s in $DL_SERVERS; do echo "- $s: ${SYS_TOP[$s]}"; done
    for s in $DL_SERVERS; do
        echo
        echo "Top functions of $s's request threads (self instructions per download):"
        echo
        echo '```'
        echo "${TOP[$s]}"
        echo '```'
        [ -n "${WTOP[$s]}" ] || continue
        echo
        echo "Top functions of $s's writer thread (self instructions per download):"
        echo
        echo '```'
        echo "${WTOP[$s]}"
        echo '```'
    done
)
[ -n "$DL_REPORT" ] && REPORT="$REPORT${REPORT:+

}$DL_REPORT"
if [ -n "$OUT" ]; then
    mkdir -p "$(dirname "$OUT")"
    {
        echo "# Instructions per check and per download"
        echo
        echo "Do not edit by hand: run \`bench/server/instr.sh\` again (method: docs/benchmarks.md)."
        echo
        echo "$REPORT"
    } >"$OUT.tmp" && mv "$OUT.tmp" "$OUT"
    log "results written to $OUT"
fi
echo "$REPORT"
exit 0
