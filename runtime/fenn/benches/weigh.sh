#!/usr/bin/env bash
# What each crate weighs in the release binary: the sizes of its functions
# (generic code counted under the crate that defines it, as symbol names
# give it), and the binary's sections. Builds the release binary with its
# symbols kept, unless given one.
#
#   runtime/fenn/benches/weigh.sh [UNSTRIPPED_FENN] [cargo build flags, e.g. --features ...]
set -euo pipefail
cd "$(dirname "$0")/../../.."
if [ -n "${1:-}" ] && [ -f "$1" ]; then
    bin=$1
    shift
else
    # The fenn package's own override strips too (Cargo.toml).
    CARGO_PROFILE_RELEASE_STRIP=false cargo build -q --release --bin fenn \
        --config profile.release.package.fenn.strip=false "$@"
    bin=${CARGO_TARGET_DIR:-target}/release/fenn
fi
stripped=$(mktemp)
trap 'rm -f "$stripped"' EXIT
strip -o "$stripped" "$bin"
echo "stripped: $(stat -c %s "$stripped") bytes"
echo
echo "sections over 10 KB:"
size -A "$stripped" | awk '$2 > 10000 && $1 ~ /^\./ {printf "  %-20s %9d\n", $1, $2}'
echo
echo "code by crate (the first 30):"
nm -C --size-sort -S "$bin" | awk '$3 ~ /^[tTwW]$/ {
    size = strtonum("0x" $2)
    $1 = $2 = $3 = ""
    name = substr($0, 4)
    sub(/^<+/, "", name)
    split(name, parts, "::")
    crate = parts[1]
    gsub(/[ &*(]/, "", crate)
    if (crate !~ /^[a-z_][a-z0-9_]*$/) crate = "(other)"
    total[crate] += size
    all += size
} END {
    for (crate in total) printf "  %-24s %9d\n", crate, total[crate]
    printf "  %-24s %9d\n", "(all code)", all
}' | sort -k2 -rn | head -31
