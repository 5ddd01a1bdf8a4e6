#!/usr/bin/env bash
# A 64 MB device: fenn inside a memory cgroup of 64 MB, a memory bomb
# (memory = "16MiB", concurrency = 32, 16 workers it may all hold, so that
# the worker share does not bound it first) hammered by 32 connections, once with
# a guest_memory budget that fits the device and once without one (the
# default, 256 MiB). Prints what the clients got, whether fenn was still
# serving, and the cgroup's peak memory. Needs root and a cgroup v1 memory
# controller (/sys/fs/cgroup/memory) or cgroup v2 (/sys/fs/cgroup).
#
#   triggers/http/benches/small_device.sh [seconds, default 5]
#   FENN=target/x86_64-unknown-linux-musl/release/fenn triggers/http/benches/small_device.sh
#       (another build, such as the static musl one)
set -euo pipefail
cd "$(dirname "$0")/../../.."
secs=${1:-5}

command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }
fenn=${FENN:-target/release/fenn}
[ -n "${FENN:-}" ] || cargo build --release --quiet --bin fenn
misbehave=$PWD/functions/target/wasm32-unknown-unknown/release/misbehave.wasm

run() { # run LABEL GUEST_MEMORY_LINE
    local dir group out pid url status
    dir=$(mktemp -d)
    cat >"$dir/fenn.toml" <<EOF
[server]
workers = 16
$2
[[function]]
name = "bomb"
module = "$misbehave"
memory = "16MiB"
concurrency = 32
max_workers = 16
fuel = 10_000_000_000
  [[function.http]]
  route = "/m/{what}"
[[function]]
name = "hello"
module = "example:hello"
  [[function.http]]
  route = "/hello"
EOF
    if [ -d /sys/fs/cgroup/memory ]; then
        group=/sys/fs/cgroup/memory/fenn-bench-$$
        mkdir -p "$group"
        echo $((64 << 20)) >"$group/memory.limit_in_bytes"
        echo $((64 << 20)) >"$group/memory.memsw.limit_in_bytes" 2>/dev/null || true
        peak_file=$group/memory.max_usage_in_bytes
    else
        group=/sys/fs/cgroup/fenn-bench-$$
        mkdir -p "$group"
        echo $((64 << 20)) >"$group/memory.max"
        echo 0 >"$group/memory.swap.max" 2>/dev/null || true
        peak_file=$group/memory.peak
    fi
    out=$dir/out
    sh -c "echo \$\$ >$group/cgroup.procs && exec $fenn serve --config $dir/fenn.toml --listen 127.0.0.1:0" >"$out" 2>/dev/null &
    pid=$!
    url=""
    for _ in $(seq 1 500); do
        url=$(grep -o 'http://[0-9.:]*' "$out" | head -1 || true)
        [ -n "$url" ] && break
        sleep 0.01
    done
    wrk -t2 -c32 -d"${secs}s" "$url/m/bomb" 2>/dev/null | awk '/requests in|Non-2xx|Socket errors/' | sed 's/^ */    /'
    if kill -0 "$pid" 2>/dev/null; then
        status="still serving: $(curl -s "$url/hello?name=device")"
    else
        wait "$pid" && code=0 || code=$?
        status="gone (exit $code; 137 is the OOM killer)"
    fi
    echo "  $1: fenn $status; cgroup peak $(($(cat "$peak_file") >> 20)) MiB of 64"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rmdir "$group" 2>/dev/null || true
    rm -rf "$dir"
}

echo "memory bomb x 32 connections in a 64 MB cgroup:"
run "guest_memory = 32MiB" 'guest_memory = "32MiB"'
run "no budget (default 256MiB)" ''
