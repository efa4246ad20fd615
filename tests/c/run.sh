#!/usr/bin/env bash
# The C binding's test entry: builds interlink-ffi (cargo; build.rs regenerates
# include/interlink.h and the run fails if that changes the checked-in header), compiles the
# C programs with the system gcc (-std=c11 -Wall -Wextra -Werror) against the static AND the
# shared library, runs them, runs both under valgrind, builds the README example through
# pkg-config (target/pkgconfig/interlink.pc), runs the C parity scenario runner (outcomes in
# $INTERLINK_SCENARIO_OUT/c, default target/scenario-outcomes/c) and smoke-runs the boundary
# benchmark. Everything it writes stays under target/. Idempotent.
#
# INTERLINK_PROFILE=release builds the release library (default: debug).
# The last line is the total: "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PROFILE=${INTERLINK_PROFILE:-debug}
if [ "$PROFILE" = release ]; then REL=(--release); OUT=target/release; else REL=(); OUT=target/debug; fi
OUTCOMES=${INTERLINK_SCENARIO_OUT:-$ROOT/target/scenario-outcomes}
BUILD=target/c
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# interlink_test_panic prints Rust's panic message; keep it to one line.
export RUST_BACKTRACE=0
START=$SECONDS
PASSED=0
FAILED=0
section() { printf '\n===== c: %s  [t=%ds]\n' "$1" $((SECONDS - START)); }

# Runs a test program, shows its output, adds its "N passed, N failed" line to the totals.
run_counted() {
    local log
    log=$(mktemp)
    local rc=0
    timeout 300 "$@" >"$log" 2>&1 || rc=$?
    cat "$log"
    local line
    line=$(grep -E '[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1 || true)
    rm -f "$log"
    if ! [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        echo "!! $* printed no summary (exit $rc)"
        FAILED=$((FAILED + 1))
        return
    fi
    local p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "!! $* exited with $rc"
        FAILED=$((FAILED + 1))
    fi
}

section "build interlink-ffi ($PROFILE)"
cargo build -p interlink-ffi --locked "${REL[@]}"

section "header"
if git ls-files --error-unmatch include/interlink.h >/dev/null 2>&1; then
    git diff --exit-code -- include/ ||
        { echo "include/interlink.h is stale: commit the header the build regenerated"; exit 1; }
    echo "include/interlink.h matches the checked-in header"
else
    echo "include/interlink.h is not committed yet (nothing to compare with)"
fi
g++ -std=c++17 -Wall -Wextra -Werror -fsyntax-only -x c++ include/interlink.h
echo "the header also compiles as C++17"

section "C tests against the static and the shared library"
mkdir -p "$BUILD"
CFLAGS=(-std=c11 -Wall -Wextra -Werror -Iinclude -Itests/c)
STATIC_LIBS=(-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc)
for prog in test_sansio test_hub test_convenience; do
    gcc "${CFLAGS[@]}" "tests/c/$prog.c" "$OUT/libinterlink_ffi.a" "${STATIC_LIBS[@]}" -o "$BUILD/${prog}_static"
    gcc "${CFLAGS[@]}" "tests/c/$prog.c" -L"$OUT" -linterlink_ffi -Wl,-rpath,"$ROOT/$OUT" -lpthread \
        -o "$BUILD/${prog}_shared"
done
for variant in static shared; do
    for prog in test_sansio test_hub test_convenience; do
        echo "--- $prog ($variant)"
        run_counted "$BUILD/${prog}_$variant"
    done
done

section "valgrind"
# sans-IO: no threads of ours; every byte must be freed.
echo "--- test_sansio (shared) under valgrind --leak-check=full"
run_counted valgrind -q --leak-check=full --error-exitcode=1 "$BUILD/test_sansio_shared"
echo "--- test_hub (shared) under valgrind --leak-check=full"
run_counted valgrind -q --leak-check=full --error-exitcode=1 "$BUILD/test_hub_shared"
# Convenience: smol's executor and blocking-pool threads are still running at exit, so their
# stacks show as "possibly lost"; memory errors and definite leaks still fail the run.
echo "--- test_convenience (shared) under valgrind --leak-check=full --errors-for-leak-kinds=definite"
run_counted valgrind -q --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --error-exitcode=1 \
    "$BUILD/test_convenience_shared"

section "pkg-config"
mkdir -p target/pkgconfig
VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
sed -e "s|@PREFIX@|$ROOT|" -e "s|@LIBDIR@|$ROOT/$OUT|" -e "s|@VERSION@|$VERSION|" \
    include/interlink.pc.in >target/pkgconfig/interlink.pc
PKG_CONFIG=$(command -v pkg-config || command -v pkgconf || true)
if [ -n "$PKG_CONFIG" ]; then
    FLAGS=$(PKG_CONFIG_PATH="$ROOT/target/pkgconfig" "$PKG_CONFIG" --cflags --libs interlink)
    echo "cc \$(pkg-config --cflags --libs interlink) = $FLAGS"
    # shellcheck disable=SC2086 # word splitting of the flags is intended
    cc -std=c11 -Wall -Wextra -Werror tests/c/example.c $FLAGS -o "$BUILD/example"
    if out=$(timeout 60 "$BUILD/example") && [ "$out" = "200 hello from C" ]; then
        echo "example: $out"
        PASSED=$((PASSED + 1))
    else
        echo "!! example failed: ${out:-}"
        FAILED=$((FAILED + 1))
    fi
else
    echo "SKIPPED: neither pkg-config nor pkgconf is installed (target/pkgconfig/interlink.pc was written)"
fi

section "parity scenarios (C runner)"
gcc "${CFLAGS[@]}" tests/c/scenarios.c -L"$OUT" -linterlink_ffi -Wl,-rpath,"$ROOT/$OUT" -lpthread \
    -o "$BUILD/scenarios"
mkdir -p "$OUTCOMES/c"
run_counted "$BUILD/scenarios" tests/scenarios "$OUTCOMES/c"

section "boundary benchmark (smoke, $PROFILE; full run: tests/c/bench/run.sh)"
gcc "${CFLAGS[@]}" -O2 tests/c/bench/boundary.c -L"$OUT" -linterlink_ffi -Wl,-rpath,"$ROOT/$OUT" \
    -o "$BUILD/boundary"
"$BUILD/boundary" 2000

section "done"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
