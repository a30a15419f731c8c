#!/usr/bin/env bash
# Single-node Apache Kafka 4.x (KRaft, combined broker+controller) on loopback,
# run straight from Maven Central jars: no Docker, no Kafka tarball.
#
#   deploy/kafka/kafka.sh fetch
#   deploy/kafka/kafka.sh start  [--port 9092] [--data var/kafka]
#   deploy/kafka/kafka.sh stop   [--data var/kafka]
#   deploy/kafka/kafka.sh status [--data var/kafka]
#
# Jars are resolved by Maven (deploy/kafka/pom.xml) into
#   ${REDSHIELD_CACHE:-$HOME/.cache/redshield}/kafka-<version>/libs
# which is outside the repo. The default data dir is <repo>/var/kafka; a relative
# --data is taken relative to the current directory.
# Needs: bash, java (17+), mvn (only for the first fetch).
#
# Environment overrides:
#   REDSHIELD_CACHE        cache root (default ~/.cache/redshield)
#   KAFKA_HEAP_OPTS        default "-Xmx512m -Xms256m"
#   KAFKA_START_TIMEOUT    seconds to wait for readiness (default 90)
#   JAVA                   java binary (default: $JAVA_HOME/bin/java or java on PATH)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
POM="$SCRIPT_DIR/pom.xml"
TEMPLATE="$SCRIPT_DIR/server.properties.template"
LOG4J_CONFIG="$SCRIPT_DIR/log4j2.yaml"
PROBE_SRC="$SCRIPT_DIR/KafkaReady.java"

KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1)"
[[ -n "$KAFKA_VERSION" ]] || { echo "kafka.sh: cannot read kafka.version from $POM" >&2; exit 1; }
CACHE_DIR="${REDSHIELD_CACHE:-$HOME/.cache/redshield}/kafka-$KAFKA_VERSION"
LIBS_DIR="$CACHE_DIR/libs"
MARKER="$CACHE_DIR/.fetched"

if [[ -n "${JAVA:-}" ]]; then :
elif [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then JAVA="$JAVA_HOME/bin/java"
else JAVA=java
fi

DEFAULT_PORT=9092
DEFAULT_DATA="$REPO_ROOT/var/kafka"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"

log() { echo "kafka.sh: $*" >&2; }
die() { echo "kafka.sh: error: $*" >&2; exit 1; }

usage() {
    sed -n '2,20s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

# ---------------------------------------------------------------- helpers

pom_hash() { sha256sum "$POM" | cut -d' ' -f1; }

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pid of the broker recorded in $1/kafka.pid, printed only if that process is alive
# and really is a kafka.Kafka JVM (guards against a recycled pid).
running_pid() {
    local pidfile="$1/kafka.pid" pid
    [[ -f "$pidfile" ]] || return 1
    pid="$(tr -dc '0-9' <"$pidfile")"
    [[ -n "$pid" ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    if [[ -r "/proc/$pid/cmdline" ]]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka' || return 1
    fi
    echo "$pid"
}

# Value of key $2 in properties file $1 (empty if absent).
prop() {
    [[ -f "$1" ]] || return 0
    sed -n "s/^$2=//p" "$1" | tail -n1
}

# KRaft cluster id: 16 random bytes, base64url without padding (22 chars),
# not starting with '-' (same rule as org.apache.kafka.common.Uuid).
random_cluster_id() {
    local id
    while :; do
        id="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
        [[ "${id:0:1}" != "-" && "${#id}" -eq 22 ]] && { echo "$id"; return; }
    done
}

abs_path() {
    case "$1" in
        /*) echo "$1" ;;
        *) echo "$PWD/$1" ;;
    esac
}

# ---------------------------------------------------------------- fetch

cmd_fetch() {
    local want
    want="$(pom_hash)"
    if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$want" ]] && compgen -G "$LIBS_DIR/kafka_2.13-*.jar" >/dev/null; then
        log "Kafka $KAFKA_VERSION jars already in $LIBS_DIR"
        return 0
    fi
    command -v mvn >/dev/null || die "mvn not found: Maven is needed to fetch Kafka jars"
    log "fetching Kafka $KAFKA_VERSION jars from Maven Central into $LIBS_DIR ..."
    local start=$SECONDS tmp="$CACHE_DIR/libs.tmp.$$"
    mkdir -p "$CACHE_DIR"
    rm -rf "$tmp"
    # mvn's output (with -q only errors, plus stray ANSI resets from Debian's Maven 3.8)
    # goes to a log that is shown on failure; stdout of `start` stays the bootstrap line.
    if ! mvn -q -B -f "$POM" dependency:copy-dependencies -DoutputDirectory="$tmp" >"$CACHE_DIR/fetch.log" 2>&1; then
        sed 's/\x1b\[[0-9;]*m//g' "$CACHE_DIR/fetch.log" >&2
        rm -rf "$tmp"
        die "mvn dependency:copy-dependencies failed (is Maven Central reachable?)"
    fi
    compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || { rm -rf "$tmp"; die "no kafka_2.13 jar resolved"; }
    rm -rf "$LIBS_DIR"
    mv "$tmp" "$LIBS_DIR"
    echo "$want" >"$MARKER"
    log "fetched $(find "$LIBS_DIR" -name '*.jar' | wc -l) jars ($(du -sh "$LIBS_DIR" | cut -f1)) in $((SECONDS - start))s"
}

# ---------------------------------------------------------------- start

JVM_OPTS=(
    -server
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError
    -Djava.awt.headless=true
)

render_config() {
    local data="$1" port="$2" cport="$3" tpl
    tpl="$(<"$TEMPLATE")"
    tpl="${tpl//@PORT@/$port}"
    tpl="${tpl//@CONTROLLER_PORT@/$cport}"
    tpl="${tpl//@LOG_DIR@/$data/logs}"
    printf '%s\n' "$tpl" >"$data/server.properties.tmp"
    mv "$data/server.properties.tmp" "$data/server.properties"
}

pick_controller_port() {
    local port="$1" previous="$2" p
    # Keep the controller port a formatted data dir used before, when it is free.
    if [[ -n "$previous" && "$previous" != "$port" ]] && ! port_open "$previous"; then
        echo "$previous"; return
    fi
    for ((p = port + 1; p <= port + 100 && p <= 65535; p++)); do
        port_open "$p" || { echo "$p"; return; }
    done
    die "no free controller port in $((port + 1))..$((port + 100))"
}

# Run KafkaReady.java (Admin client Metadata + ListTopics request). It is compiled once
# into the cache (saves ~1 s per start); without javac, Java's source launcher runs it.
run_probe() {
    local javac="${JAVA%java}javac" dir
    dir="$CACHE_DIR/probe-$(sha256sum "$PROBE_SRC" | cut -c1-12)"
    if [[ ! -f "$dir/KafkaReady.class" ]] && command -v "$javac" >/dev/null; then
        rm -rf "$dir.tmp.$$"
        if "$javac" -nowarn -cp "$LIBS_DIR/*" -d "$dir.tmp.$$" "$PROBE_SRC" >/dev/null 2>&1; then
            rm -rf "$dir"; mv "$dir.tmp.$$" "$dir"
        else
            rm -rf "$dir.tmp.$$"
        fi
    fi
    local opts=(-Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC)
    if [[ -f "$dir/KafkaReady.class" ]]; then
        "$JAVA" "${opts[@]}" -cp "$dir:$LIBS_DIR/*" KafkaReady "$@"
    else
        "$JAVA" "${opts[@]}" -cp "$LIBS_DIR/*" "$PROBE_SRC" "$@"
    fi
}

cmd_start() {
    local port="$DEFAULT_PORT" data="$DEFAULT_DATA"
    while (($#)); do
        case "$1" in
            --port) port="${2:?--port needs a value}"; shift 2 ;;
            --port=*) port="${1#*=}"; shift ;;
            --data) data="${2:?--data needs a value}"; shift 2 ;;
            --data=*) data="${1#*=}"; shift ;;
            *) die "start: unknown argument '$1'" ;;
        esac
    done
    [[ "$port" =~ ^[0-9]+$ ]] && ((port > 0 && port < 65535)) || die "bad --port '$port'"
    data="$(abs_path "$data")"
    local cfg="$data/server.properties" pidfile="$data/kafka.pid" logfile="$data/kafka.log"

    local pid
    if pid="$(running_pid "$data")"; then
        local cur
        cur="$(prop "$cfg" advertised.listeners)"; cur="${cur##*:}"
        [[ "$cur" == "$port" ]] || die "a broker (pid $pid) already runs on data dir $data with port $cur; stop it first"
        log "already running (pid $pid)"
        echo "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$port"
        return 0
    fi
    if port_open "$port"; then
        die "port 127.0.0.1:$port is already in use by another process; pick another with --port"
    fi

    cmd_fetch

    mkdir -p "$data"
    local previous_cport cport
    previous_cport="$(prop "$cfg" controller.quorum.voters)"; previous_cport="${previous_cport##*:}"
    cport="$(pick_controller_port "$port" "$previous_cport")"
    render_config "$data" "$port" "$cport"

    local cp="$LIBS_DIR/*"
    if [[ ! -f "$data/logs/meta.properties" ]]; then
        local cluster_id
        cluster_id="$(random_cluster_id)"
        log "formatting $data/logs (cluster id $cluster_id)"
        if ! "$JAVA" -Xmx256m "${JVM_OPTS[@]}" -cp "$cp" kafka.tools.StorageTool \
                format --config "$cfg" --cluster-id "$cluster_id" >"$data/format.log" 2>&1; then
            cat "$data/format.log" >&2
            die "storage format failed"
        fi
    fi

    log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$port (controller 127.0.0.1:$cport), data $data"
    local heap
    read -r -a heap <<<"${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}"
    [[ -s "$logfile" ]] && mv -f "$logfile" "$logfile.1"   # keep the previous run's log
    : >"$logfile"
    local t0=$SECONDS
    # nohup + setsid: the broker outlives this shell and its process group; both exec,
    # so $! is the JVM's pid.
    nohup setsid "$JAVA" "${heap[@]}" "${JVM_OPTS[@]}" \
        -Dlog4j2.configurationFile="$LOG4J_CONFIG" \
        -Dkafka.logs.dir="$data" \
        -cp "$cp" kafka.Kafka "$cfg" </dev/null >>"$logfile" 2>&1 &
    pid=$!
    echo "$pid" >"$pidfile"

    # 1) wait for the client port and the server's own "started" line;
    # 2) then a real Kafka request (Metadata + ListTopics) through the Admin client.
    local deadline=$((t0 + START_TIMEOUT))
    fail_start() {
        log "$1"
        if grep -qE '^\[[^]]*\] (ERROR|FATAL)|^Caused by' "$logfile"; then
            log "errors in $logfile:"
            grep -E '^\[[^]]*\] (ERROR|FATAL)|^Caused by' "$logfile" | tail -n 8 >&2 || true
        fi
        log "last lines of $logfile (stack frames omitted):"
        grep -vE '^[[:space:]]+(at |\.\.\. [0-9]+ more)' "$logfile" | tail -n 15 >&2 || true
        terminate "$pid" 10
        rm -f "$pidfile"
        exit 1
    }
    while :; do
        kill -0 "$pid" 2>/dev/null || fail_start "broker exited during startup"
        if port_open "$port" && grep -q 'Kafka Server started' "$logfile"; then break; fi
        ((SECONDS < deadline)) || fail_start "broker not up after ${START_TIMEOUT}s"
        sleep 0.5
    done
    local left=$((deadline - SECONDS)); ((left > 5)) || left=5
    if ! run_probe "127.0.0.1:$port" "$((left * 1000))" >&2; then
        fail_start "broker does not answer Kafka requests on 127.0.0.1:$port"
    fi
    kill -0 "$pid" 2>/dev/null || fail_start "broker exited during startup"
    log "ready in $((SECONDS - t0))s (pid $pid, log $logfile)"
    echo "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$port"
}

# ---------------------------------------------------------------- stop / status

data_arg() {
    local data="$DEFAULT_DATA"
    while (($#)); do
        case "$1" in
            --data) data="${2:?--data needs a value}"; shift 2 ;;
            --data=*) data="${1#*=}"; shift ;;
            --port|--port=*) [[ "$1" == *=* ]] && shift || shift 2 ;;  # accepted, ignored
            *) die "unknown argument '$1'" ;;
        esac
    done
    abs_path "$data"
}

# SIGTERM pid $1 (a controlled shutdown), wait up to $2 s, then SIGKILL.
terminate() {
    local pid="$1" grace="$2" i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 4; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.25
    done
    log "pid $pid still alive after ${grace}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
}

cmd_stop() {
    local data pid
    data="$(data_arg "$@")"
    if ! pid="$(running_pid "$data")"; then
        rm -f "$data/kafka.pid"
        log "not running ($data)"
        return 0
    fi
    log "stopping broker pid $pid"
    terminate "$pid" 30
    rm -f "$data/kafka.pid"
    log "stopped"
}

cmd_status() {
    local data pid port
    data="$(data_arg "$@")"
    if pid="$(running_pid "$data")"; then
        port="$(prop "$data/server.properties" advertised.listeners)"; port="${port##*:}"
        if port_open "$port"; then
            echo "running pid=$pid KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$port data=$data"
        else
            echo "starting pid=$pid (port $port not open yet) data=$data"
        fi
        return 0
    fi
    echo "stopped data=$data"
    return 3
}

# ---------------------------------------------------------------- main

main() {
    local cmd="${1:-}"
    (($#)) && shift
    case "$cmd" in
        fetch) cmd_fetch ;;
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        status) cmd_status "$@" ;;
        -h|--help|help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
