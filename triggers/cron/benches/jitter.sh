#!/usr/bin/env bash
# Fire jitter of the cron trigger: how late each fire starts after its
# planned time (fenn logs it as late_us on every run), over an every-100ms
# schedule, first with the machine idle, then while wrk loads the HTTP
# gateway of the same fenn process. Prints p50/p99/max of each window.
#
#   triggers/cron/benches/jitter.sh [seconds per window, default 30]
#   FENN=path/to/fenn triggers/cron/benches/jitter.sh
#       (another build, such as one of an earlier commit, to compare)
set -euo pipefail
cd "$(dirname "$0")/../../.."
secs=${1:-30}

command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }
fenn=${FENN:-${CARGO_TARGET_DIR:-target}/release/fenn}
[ -n "${FENN:-}" ] || cargo build --release --quiet --bin fenn

dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
cat >"$dir/fenn.toml" <<'TOML'
[[function]]
name = "echo"
module = "example:echo"
  [[function.cron]]
  name = "tick"
  schedule = "every 100ms"

[[function]]
name = "hello"
module = "example:hello"
  [[function.http]]
  route = "/hello"
TOML
RUST_LOG=info "$fenn" serve --config "$dir/fenn.toml" --listen 127.0.0.1:0 >"$dir/out" 2>"$dir/log" &
pid=$!
for _ in $(seq 1 500); do grep -q listening "$dir/out" 2>/dev/null && break; sleep 0.01; done
url=$(grep -o 'http://[0-9.:]*' "$dir/out" | head -1)/hello?name=Jason

stats() { # p50 p99 max of the late_us values in stdin, in microseconds
    grep -o 'late_us=[0-9-]*' | cut -d= -f2 | sort -n |
        awk '{v[NR]=$1} END {printf "%d fires: p50 %d us, p99 %d us, max %d us\n", NR, v[int(NR*0.5)+1], v[int(NR*0.99)+1], v[NR]}'
}

sleep "$secs"
idle_lines=$(wc -l <"$dir/log")
wrk -t2 -c64 -d"${secs}s" "$url" | awk '/Requests\/sec/ {print "gateway load during the second window: " $2 " req/s"}'
printf 'idle:        '; head -n "$idle_lines" "$dir/log" | grep 'cron run' | stats
printf 'under load:  '; tail -n +"$((idle_lines + 1))" "$dir/log" | grep 'cron run' | stats
