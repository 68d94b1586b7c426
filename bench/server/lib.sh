# The set-up bench/server/run.sh and bench/server/instr.sh share, sourced by both so that
# they measure the same thing: the same firmware, the same device request byte for byte,
# updraft started and given its release (or rollout) the same way, nginx with the same
# lean configuration, the same ports, build and clean-up.
#
# Before sourcing, set ROOT (the repository), HERE (bench/server) and LOG_TAG (the
# prefix of log lines); after it, UPDRAFT, MKIMAGE, TOKEN, MAC, WORK (a fresh temp dir,
# removed on exit unless KEEP_WORK=1) and STARTED (pids stopped on exit, with their
# children) are set.
# shellcheck shell=bash

UPDRAFT=${UPDRAFT:-$ROOT/build/release/src/cli/updraft}
MKIMAGE=${MKIMAGE:-$ROOT/build/release/tests/cli/mkimage}
TOKEN=bench-admin-token-0123456789
MAC=DE:BA:7A:B1:E0:42
# a version and MD5 no release has: the device of a download
OLD_MD5=a43ad019932b627ab90ee35a94a764ee

log() { printf '[%s %s] %s\n' "$LOG_TAG" "$(date +%H:%M:%S)" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

WORK=$(mktemp -d "/tmp/updraft-$LOG_TAG.XXXXXX") || die "no temp dir"
declare -a STARTED=()
cleanup() {
    # the processes started here and their children (nginx and php -S workers: a php -S
    # master stopped by SIGTERM does not always take its workers along)
    local p all=()
    for p in "${STARTED[@]}"; do
        # shellcheck disable=SC2207
        all+=($(pgrep -P "$p" 2>/dev/null) "$p")
    done
    for p in "${all[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in "${all[@]}"; do
        for _ in $(seq 100); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    if [ -n "${KEEP_WORK:-}" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# need TOOL... : every tool on the PATH, else say which and how to install it
need() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null ||
            die "$tool is not installed (apt-get install -y wrk nginx-light php-cli curl gcc valgrind strace)"
    done
}

# the release build of updraft and mkimage (SKIP_BUILD=1: as they are)
build_release() {
    if [ -z "${SKIP_BUILD:-}" ]; then
        log "building (cmake --preset release)"
        (cd "$ROOT" && cmake --preset release >/dev/null &&
            cmake --build --preset release --target updraft mkimage >/dev/null) ||
            log "warning: build failed; using the binaries already in build/release"
    fi
    [ -x "$UPDRAFT" ] || die "$UPDRAFT missing: cmake --preset release && cmake --build --preset release"
    [ -x "$MKIMAGE" ] || die "$MKIMAGE missing: cmake --build --preset release --target mkimage"
}

# ---- ports -------------------------------------------------------------------------------
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
next_port=$((20000 + RANDOM % 20000))
pick_port() { # VAR: set VAR to a free port (no subshell: next_port must advance)
    while ! port_free "$next_port"; do next_port=$((next_port + 1)); done
    printf -v "$1" '%s' "$next_port"
    next_port=$((next_port + 1))
}
wait_port() { # PORT [SECONDS, default 10]: until something listens there
    for _ in $(seq $((${2:-10} * 10))); do
        port_free "$1" || return 0
        sleep 0.1
    done
    return 1
}
stop_pid() { # PID [SECONDS, default 10]: SIGTERM, then SIGKILL after SECONDS
    kill -TERM "$1" 2>/dev/null
    for _ in $(seq $((${2:-10} * 10))); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# ---- firmware and the device's request ---------------------------------------------------
# The release: 1 MiB exactly (mkimage's esp8266-app adds 38,432 bytes around the code
# segment). BIG_SIZE and BIG_MD5 are what a device running it reports.
make_big_firmware() { # FILE
    "$MKIMAGE" esp8266-app "$1" 1010144 1 >/dev/null || die "mkimage failed"
    BIG_SIZE=$(stat -c %s "$1")
    BIG_MD5=$(md5sum "$1" | cut -d' ' -f1)
    [ "$BIG_SIZE" = 1048576 ] || log "warning: the big image is $BIG_SIZE bytes, not 1 MiB"
}

# The ESP8266 request of spec section 8, byte for byte (HTTP/1.0, Connection: close).
# device_request PATH HOST:PORT VERSION SKETCH_MD5 SKETCH_SIZE > file
device_request() {
    printf '%s\r\n' \
        "GET $1 HTTP/1.0" \
        "Host: $2" \
        "User-Agent: ESP8266-http-Update" \
        "Connection: close" \
        "x-ESP8266-Chip-ID: 15602487" \
        "x-ESP8266-STA-MAC: $MAC" \
        "x-ESP8266-AP-MAC: $MAC" \
        "x-ESP8266-free-space: 1695744" \
        "x-ESP8266-sketch-size: $5" \
        "x-ESP8266-sketch-md5: $4" \
        "x-ESP8266-chip-size: 4194304" \
        "x-ESP8266-sdk-version: 2.5.0" \
        "x-ESP8266-mode: sketch" \
        "x-ESP8266-version: $3" \
        "Content-Length: 0" \
        ""
}

# The request of a device on 1.0.0 (an image no release is), which gets the 1 MiB release:
# download_request PATH HOST:PORT > file. The device downloads again and again and never
# installs: to the failed-release rules (docs/protocol.md "Failed releases") a failing
# device, held back after 3 downloads (304s from then on). Marked as a tool's device, as
# updraft sim's are, it is never held.
download_request() {
    device_request "$1" "$2" 1.0.0 "$OLD_MD5" 400000 |
        sed 's/^Content-Length: 0\r$/x-updraft-tool: bench\r\nContent-Length: 0\r/'
}

# ---- updraft -------------------------------------------------------------------------------
# serve_updraft PORT DATA LOG WAIT_S [SERVE OPTIONS...]: `updraft serve` on 127.0.0.1:PORT
# with a fresh or existing data dir, run under the command in the array SERVE_WRAPPER if
# set (instr.sh: valgrind); its pid in SERVED_PID.
SERVE_WRAPPER=()
serve_updraft() {
    local port=$1 data=$2 logf=$3 wait_s=$4
    shift 4
    UPDRAFT_ADMIN_TOKEN=$TOKEN "${SERVE_WRAPPER[@]}" "$UPDRAFT" serve --listen "127.0.0.1:$port" \
        --data "$data" "$@" >>"$logf" 2>&1 &
    SERVED_PID=$!
    STARTED+=("$SERVED_PID")
    wait_port "$port" "$wait_s" || die "updraft did not start on :$port: $(tail -5 "$logf")"
}
api() { curl -sS -H "Authorization: Bearer $TOKEN" "$@"; }
# upload_release PORT FILE VERSION [CHANNEL] -> the release id on stdout (empty: failed)
upload_release() {
    api --data-binary "@$2" -H 'Content-Type: application/octet-stream' \
        "http://127.0.0.1:$1/api/v1/releases?version=$3${4:+&channel=$4}" |
        sed -n 's/^{"id":\([0-9]*\),.*/\1/p'
}
# rollout_to_all PORT RELEASE_ID: the release to every device in one wave of 100%, so
# that every check is decided by an active rollout (docs/rollouts.md)
rollout_to_all() {
    api -H 'Content-Type: application/json' -d "{\"release\": ${2:-0}, \"waves\": \"100%\"}" \
        "http://127.0.0.1:$1/api/v1/rollouts" | grep -q '"state":"running"'
}

# ---- nginx ---------------------------------------------------------------------------------
# nginx_conf DIR WORKERS CONNECTIONS MAIN HTTP: writes DIR/nginx.conf, the baseline as
# lean as it gets (no access log), temp paths in DIR; MAIN: more top-level directives,
# HTTP: the http block's directives and server blocks.
nginx_conf() {
    local d=$1 user=""
    mkdir -p "$d" || die "cannot make $d"
    [ "$(id -u)" = 0 ] && user="user $(id -un) $(id -gn);"
    cat >"$d/nginx.conf" <<EOF
$user
$4
worker_processes $2;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections $3; }
http {
    access_log off;
    client_body_temp_path $d/body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
$5
}
EOF
}
