#!/usr/bin/env bash
# What the code of this tree costs against an older commit, measured side by
# side in one run so that the machine's noise hits both: the figures the
# size and speed budgets hold (runtime/BENCHMARKS.md).
#
#   runtime/fenn/benches/compare.sh OLD_REV [seconds per run, default 5] [rounds, default 3]
#
# Builds OLD_REV (in a worktree of its own, or in OLD_TREE, into
# FENN_COMPARE_TARGET/old, by default ~/.cache/fenn-compare/old) and this
# tree as it is, both on the release
# profile, then, alternating old and new (and plain axum answering the same
# bytes) round by round, prints one table:
#
# - gateway: `/hello` req/s at 64 connections and p50 at 1 connection (wrk);
# - memory: idle RSS serving the bundled examples with MQTT connected, and
#   ten seconds after LOAD_SECS (default 60) of gateway load at 64
#   connections;
# - per event in process: the SDK hello and the empty-guest floor
#   (`cargo bench -p fenn-runtime --bench per_event` in each tree);
# - MQTT: QoS 0 and 1 through fenn against a plain rumqttc relay, the
#   round trip against a plain responder, and RSS after a burst of 40,000
#   QoS 1 messages (this tree's `cargo bench --bench mqtt` on each binary;
#   SKIP_MQTT=1 leaves it out);
# - size: stripped x86_64 and, with cargo-zigbuild (as .ci/run installs
#   it), aarch64 binaries of the default build; the stripped x86_64
#   minimal build (`--no-default-features`) of a tree that has one.
#
# The examples' MQTT broker is the one on 127.0.0.1:1883; one is started
# there when none listens.
set -euo pipefail
cd "$(dirname "$0")/../../.."
old_rev=$(git rev-parse --short "${1:?usage: compare.sh OLD_REV [seconds] [rounds]}")
secs=${2:-5} rounds=${3:-3} load_secs=${LOAD_SECS:-60}
cache=${FENN_COMPARE_TARGET:-$HOME/.cache/fenn-compare}
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
. triggers/http/benches/common.sh

# OLD_TREE: a checkout of OLD_REV to build in (its target directory then
# stays warm between runs); else a worktree made for this run.
work=$(mktemp -d)
old_tree=${OLD_TREE:-$work/old}
[ -n "${OLD_TREE:-}" ] || git worktree add -q --detach "$old_tree" "$old_rev"
[ "$(git -C "$old_tree" rev-parse --short HEAD)" = "$old_rev" ] || { echo "$old_tree is not at $old_rev" >&2; exit 1; }
cleanup() {
    kill "${pids[@]}" 2>/dev/null || true
    [ -n "${OLD_TREE:-}" ] || git worktree remove --force "$old_tree" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# --- builds ----------------------------------------------------------------
new_target=${CARGO_TARGET_DIR:-$PWD/target}
old_target=$cache/old
echo "building $old_rev and this tree (release) ..." >&2
(cd "$old_tree" && CARGO_TARGET_DIR=$old_target cargo build -q --release --bin fenn)
cargo build -q --release --bin fenn
cargo build -q --release -p fenn-http --example plain_hello
OLD=$old_target/release/fenn NEW=$new_target/release/fenn PLAIN=$new_target/release/examples/plain_hello

if ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
    mosquitto -p 1883 >/dev/null 2>&1 &
    pids+=($!)
    for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null && break; sleep 0.05; done
fi

# --- gateway and memory ----------------------------------------------------
start plain "$PLAIN" 127.0.0.1:0; URL_P=$URL/hello
start old "$OLD" serve --listen 127.0.0.1:0; URL_O=$URL/hello?name=Jason; PID_O=$PID
start new "$NEW" serve --listen 127.0.0.1:0; URL_N=$URL/hello?name=Jason; PID_N=$PID
[ "$(curl -s "$URL_O")" = "$(curl -s "$URL_N")" ] || { echo "answers differ" >&2; exit 1; }
[ "$(curl -s "$URL_N")" = "$(curl -s "$URL_P")" ] || { echo "plain answers differently" >&2; exit 1; }
# Idle: after MQTT has connected and subscribed and the first fires settled.
sleep 3
idle_o=$(rss_kb "$PID_O") idle_n=$(rss_kb "$PID_N")

declare -a tp to tn lp lo ln
for _ in $(seq 1 "$rounds"); do
    tp+=("$(throughput "$URL_P")"); to+=("$(throughput "$URL_O")"); tn+=("$(throughput "$URL_N")")
    read -r p50 _ <<<"$(latency "$URL_P")"; lp+=("$p50")
    read -r p50 _ <<<"$(latency "$URL_O")"; lo+=("$p50")
    read -r p50 _ <<<"$(latency "$URL_N")"; ln+=("$p50")
done
# A minute of load on each in turn, then ten seconds of rest.
secs=$load_secs throughput "$URL_O" >/dev/null; sleep 10; loaded_o=$(rss_kb "$PID_O")
secs=$load_secs throughput "$URL_N" >/dev/null; sleep 10; loaded_n=$(rss_kb "$PID_N")
kill "$PID_O" "$PID_N" 2>/dev/null || true

# --- per event, MQTT ---------------------------------------------------------
# `field LABEL`: the first number after LABEL on its line of stdin.
field() {
    awk -v label="$1" 'index($0, label) {
        rest = substr($0, index($0, label) + length(label))
        if (match(rest, /[0-9]+(\.[0-9]+)?/)) { print substr(rest, RSTART, RLENGTH); exit }
    }'
}
per_event() { (cd "$1" && CARGO_TARGET_DIR=$2 cargo bench -q -p fenn-runtime --bench per_event 2>/dev/null); }
declare -a ho hn fo fn_
for _ in 1 2; do
    out=$(per_event "$old_tree" "$old_target"); ho+=("$(field "fresh store + instantiate + call" <<<"$out")"); fo+=("$(field "instance floor)" <<<"$out")")
    out=$(per_event . "$new_target"); hn+=("$(field "fresh store + instantiate + call" <<<"$out")"); fn_+=("$(field "instance floor)" <<<"$out")")
done
# The MQTT benchmark of this tree, run on each binary in turn (FENN_BENCH_BIN).
mqtt() { FENN_BENCH_BIN=$1 cargo bench -q --bench mqtt 2>/dev/null; }
q1o=- q1n=- q0o=- q0n=- rto=- rtn=- bo=- bn=-
if [ -z "${SKIP_MQTT:-}" ]; then
    out=$(mqtt "$OLD")
    q0o=$(grep '^QoS 0' <<<"$out" | field "fenn/relay"); q1o=$(grep '^QoS 1' <<<"$out" | field "fenn/relay")
    rto=$(field "/ plain responder" <<<"$out"); bo=$(field "KiB (" <<<"$out")
    out=$(mqtt "$NEW")
    q0n=$(grep '^QoS 0' <<<"$out" | field "fenn/relay"); q1n=$(grep '^QoS 1' <<<"$out" | field "fenn/relay")
    rtn=$(field "/ plain responder" <<<"$out"); bn=$(field "KiB (" <<<"$out")
fi

# --- size ---------------------------------------------------------------------
strip_size() { local t; t=$(mktemp); strip -o "$t" "$1"; stat -c %s "$t"; rm -f "$t"; }
so=$(strip_size "$OLD") sn=$(strip_size "$NEW") ao=- an=-
if command -v cargo-zigbuild >/dev/null; then
    arm=aarch64-unknown-linux-gnu
    # The release profile as it is written (stripped), whatever the caller set.
    zig() { env -u CARGO_PROFILE_RELEASE_STRIP -u CARGO_PROFILE_RELEASE_DEBUG \
        cargo zigbuild -q --release --bin fenn --target $arm 2>/dev/null; }
    (cd "$old_tree" && CARGO_TARGET_DIR=$old_target zig) && ao=$(stat -c %s "$old_target/$arm/release/fenn")
    zig && an=$(stat -c %s "$new_target/$arm/release/fenn")
fi

# The minimal build (`--no-default-features`), in a tree that has one, in a
# target directory of its own so that the default build above stays warm.
minimal_size() { # minimal_size TREE TARGET: its stripped x86_64 size, or -
    grep -q '^default = \[' "$1/Cargo.toml" || { echo -; return; }
    (cd "$1" && CARGO_TARGET_DIR=$2 cargo build -q --release --no-default-features --bin fenn) &&
        strip_size "$2/release/fenn"
}
mo_=$(minimal_size "$old_tree" "$cache/minimal-old") mn_=$(minimal_size "$PWD" "$cache/minimal-new")

med() { printf '%s\n' "$@" | median; }
awk -v old="$old_rev" \
    -v tp="$(med "${tp[@]}")" -v to="$(med "${to[@]}")" -v tn="$(med "${tn[@]}")" \
    -v lp="$(med "${lp[@]}")" -v lo="$(med "${lo[@]}")" -v ln="$(med "${ln[@]}")" \
    -v io="$idle_o" -v in_="$idle_n" -v mo="$loaded_o" -v mn="$loaded_n" \
    -v ho="$(med "${ho[@]}")" -v hn="$(med "${hn[@]}")" -v fo="$(med "${fo[@]}")" -v fn_="$(med "${fn_[@]}")" \
    -v q0o="$q0o" -v q0n="$q0n" -v q1o="$q1o" -v q1n="$q1n" -v rto="$rto" -v rtn="$rtn" -v bo="$bo" -v bn="$bn" \
    -v so="$so" -v sn="$sn" -v ao="$ao" -v an="$an" -v mo_="$mo_" -v mn_="$mn_" -v loadsecs="$load_secs" 'BEGIN {
    printf "| | %s | this tree | plain axum | this tree / %s |\n|---|---|---|---|---|\n", old, old
    printf "| `/hello` req/s at 64 connections | %.0f (%.2fx axum) | %.0f (%.2fx axum) | %.0f | %.3f |\n", to, to/tp, tn, tn/tp, tp, tn/to
    printf "| `/hello` p50 at 1 connection | %.0f µs (+%.0f) | %.0f µs (+%.0f) | %.0f µs | %+.0f µs |\n", lo, lo-lp, ln, ln-lp, lp, ln-lo
    printf "| idle RSS, examples, MQTT connected | %.1f MiB | %.1f MiB | | %.3f |\n", io/1024, in_/1024, in_/io
    printf "| RSS 10 s after %d s of gateway load | %.1f MiB (%.2fx idle) | %.1f MiB (%.2fx idle) | | |\n", loadsecs, mo/1024, mo/io, mn/1024, mn/in_
    printf "| per event: SDK hello / empty-guest floor | %.0f / %.0f ns (%.2fx) | %.0f / %.0f ns (%.2fx) | | %.3f |\n", ho, fo, ho/fo, hn, fn_, hn/fn_, hn/ho
    printf "| MQTT QoS 0 / QoS 1 through fenn, x a plain relay | %s / %s | %s / %s | | |\n", q0o, q1o, q0n, q1n
    printf "| MQTT round trip p50, x a plain responder | %s | %s | | |\n", rto, rtn
    printf "| RSS 10 s after 40,000 QoS 1 messages, x idle | %s | %s | | |\n", bo, bn
    printf "| stripped binary, x86_64 | %d | %d | | %.3f |\n", so, sn, sn/so
    if (ao != "-") printf "| stripped binary, aarch64 | %d | %d | | %.3f |\n", ao, an, an/ao
    printf "| stripped minimal build (no management API, TLS, JWT), x86_64 | %s | %s | | |\n", mo_, mn_
}'
