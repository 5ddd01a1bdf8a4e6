#!/usr/bin/env bash
# The fleet at scale: the suite's fleet tests (tests/fleet) with 50 devices
# (10 of them away during a rollout) on a three-node NATS cluster, then the
# benchmark: time to converge for 50 and 100 devices, for a 20 KB and a
# 1 MB module, with the brokers' and the devices' peak memory. On the
# release binary. Each device is a fenn process with its own state
# directory and its listeners on free ports.
#
#   tests/fleet.sh                 # both
#   FENN_FLEET_BENCH=50 tests/fleet.sh bench
#   FENN_FLEET_DEVICES=20 tests/fleet.sh tests
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
# Each device holds a few dozen descriptors; 100 devices and 3 brokers hold thousands.
ulimit -n 65536 2>/dev/null || true
export FENN_FLEET_DEVICES="${FENN_FLEET_DEVICES:-50}" FENN_FLEET_AWAY="${FENN_FLEET_AWAY:-10}"
if [ "$what" = all ] || [ "$what" = tests ]; then
    cargo test --release --test integration fleet:: -- --include-ignored --skip fleet::bench --test-threads=1 --nocapture 2>&1 |
        grep -E '^(test |fleet:)|test result|panicked'
fi
if [ "$what" = all ] || [ "$what" = bench ]; then
    cargo test --release --test integration fleet::bench -- --ignored --nocapture 2>&1 |
        grep -E '^fleet bench:|test result|panicked'
fi
