# Helpers the gateway benchmarks share; sourced, not run.

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
start() { # start NAME CMD...: runs CMD, waits for its "listening on", sets URL and PID
    local out; out=$(mktemp)
    "${@:2}" >"$out" 2>/dev/null &
    PID=$!; pids+=("$PID")
    for _ in $(seq 1 500); do
        URL=$(grep -o 'http://[0-9.:]*' "$out" | head -1 || true)
        [ -n "$URL" ] && return 0
        sleep 0.01
    done
    echo "$1 did not start" >&2; exit 1
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
throughput() { wrk -t2 -c64 -d"${secs}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
latency() { # p50 and p99 in microseconds at one connection
    wrk -t1 -c1 -d"${secs}s" --latency "$1" | awk '
        function us(v) { if (v ~ /us$/) return v+0; if (v ~ /ms$/) return (v+0)*1000; return (v+0)*1000000 }
        $1=="50%" {p50=us($2)} $1=="99%" {p99=us($2)} END {print p50, p99}'
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
