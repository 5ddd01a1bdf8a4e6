#!/usr/bin/env bash
# Builds the WASI guests, hello and sensor in C, Zig, AssemblyScript and
# Rust, into OUT_DIR as <language>-<name>.wasm (c-hello.wasm,
# rust-sensor.wasm, ...). Each project builds in its own directory with its
# own build file; this only checks the toolchains, runs those builds and
# copies what they write. A project whose sources did not change is not
# rebuilt, and a module that did not change is not copied again.
#
#   functions/wasi/build.sh OUT_DIR
#
# Toolchains (tests/run and .ci/run install them):
#   C               clang, lld, wasi-libc, libclang-rt-14-dev-wasm32 (Debian)
#   Zig             ziglang from PyPI, run as `python3 -m ziglang` (or ZIG=zig)
#   AssemblyScript  node and npm; each project's packages come from its lock
#   Rust            cargo and the wasm32-wasip1 target (rustup)
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
mkdir -p "$1"
out=$(cd "$1" && pwd)
cd "$(dirname "$0")"
names=(hello sensor)

missing() { # missing TOOLCHAIN HOW: fails the build, naming what to install
    echo "functions/wasi/build.sh: $1 is missing: $2" >&2
    exit 1
}

check_toolchains() {
    command -v make >/dev/null || missing make "apt-get install make"
    command -v clang >/dev/null || missing "C (clang)" "apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32"
    command -v wasm-ld >/dev/null || missing "C (wasm-ld, from lld)" "apt-get install lld"
    [ -f /usr/include/wasm32-wasi/stdio.h ] || missing "C (wasi-libc)" "apt-get install wasi-libc"
    [ -f "$(clang --target=wasm32-wasi -print-libgcc-file-name)" ] ||
        missing "C (clang's wasm32 runtime)" "apt-get install libclang-rt-14-dev-wasm32"
    read -ra zig <<<"${ZIG:-python3 -m ziglang}"
    "${zig[@]}" version >/dev/null 2>&1 || missing "Zig (${zig[*]})" "python3 -m pip install ziglang==0.17.1"
    command -v npm >/dev/null || missing "AssemblyScript (node and npm)" "apt-get install nodejs npm"
    command -v cargo >/dev/null || missing "Rust (cargo)" "install Rust with rustup"
    [ -d "$(rustc --print sysroot)/lib/rustlib/wasm32-wasip1" ] ||
        missing "Rust (the wasm32-wasip1 target)" "rustup target add wasm32-wasip1"
}

# Copies a module to OUT_DIR unless the same bytes are there already.
deliver() { # deliver FILE NAME
    cmp -s "$1" "$out/$2" || cp "$1" "$out/$2"
}

build_c_and_zig() {
    local lang name
    for lang in c zig; do
        for name in "${names[@]}"; do
            make -s -C "$lang/$name" >&2
            deliver "$lang/$name/$name.wasm" "$lang-$name.wasm"
        done
    done
}

build_assemblyscript() {
    local name dir
    for name in "${names[@]}"; do
        dir=assemblyscript/$name
        [ -x "$dir/node_modules/.bin/asc" ] || (cd "$dir" && npm ci --silent --no-audit --no-fund)
        if [ ! -f "$dir/build/function.wasm" ] ||
            [ -n "$(find "$dir/assembly" "$dir/asconfig.json" "$dir/package-lock.json" \
                -newer "$dir/build/function.wasm" | head -1)" ]; then
            (cd "$dir" && npm run --silent build) >&2
        fi
        deliver "$dir/build/function.wasm" "assemblyscript-$name.wasm"
    done
}

build_rust() {
    local name target_dir=$out/.rust-target
    # The workspace's .cargo/config.toml sets the target and the stack
    # size; flags from the environment would replace them.
    (cd rust && env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS -u CARGO_BUILD_TARGET \
        cargo build --release --quiet --target-dir "$target_dir")
    for name in "${names[@]}"; do
        deliver "$target_dir/wasm32-wasip1/release/$name.wasm" "rust-$name.wasm"
    done
}

check_toolchains
build_c_and_zig
build_assemblyscript
build_rust
ls "$out"/*.wasm >&2
