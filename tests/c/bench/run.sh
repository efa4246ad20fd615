#!/usr/bin/env bash
# Boundary benchmark of the C binding: builds the release library and tests/c/bench/boundary.c
# (gcc -O2, static library) and runs the sans-IO rendezvous loop N times (default 100000).
set -euo pipefail
cd "$(dirname "$0")/../../.."
N=${1:-100000}
cargo build -p interlink-ffi --release --locked
mkdir -p target/c
gcc -std=c11 -Wall -Wextra -Werror -O2 -Iinclude tests/c/bench/boundary.c \
    target/release/libinterlink_ffi.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc \
    -o target/c/boundary_release
target/c/boundary_release "$N"
