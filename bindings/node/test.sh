#!/usr/bin/env bash
# Entry script of the Node binding: installs what it needs into project-local places, builds
# the addon (release, stripped) and the `interlink` CLI (unless INTERLINK_BIN is set), runs the
# parity scenarios (outcomes in $INTERLINK_SCENARIO_OUT/node/, default
# target/scenario-outcomes/node/) and then `node --test test/*.test.mjs`, whose closing lines end the
# output. Idempotent; safe to run from any directory.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
START=$SECONDS
step() { printf '\n== node binding: %s  [t=%ds]\n' "$1" $((SECONDS - START)); }

step "npm install (napi CLI) and tests/node's interop packages"
# Not `npm ci`: it refuses lockfiles without other platforms' optional packages (TOOLCHAIN.md).
(cd "$HERE" && npm install --no-audit --no-fund --loglevel=error)
(cd "$ROOT/tests/node" && npm install --no-audit --no-fund --loglevel=error)

step "build the addon (napi build --release --strip)"
(cd "$HERE" && ./node_modules/.bin/napi build --platform --release --strip --no-const-enum --runtime-string-enum)
if [ -n "${CI:-}" ] && git -C "$ROOT" ls-files --error-unmatch bindings/node/index.d.ts >/dev/null 2>&1; then
  git -C "$ROOT" diff --exit-code -- bindings/node/index.d.ts bindings/node/index.js \
    || { echo "bindings/node/index.{js,d.ts} are stale: commit the regenerated files"; exit 1; }
fi

if [ -z "${INTERLINK_BIN:-}" ]; then
  step "build the interlink CLI (cargo build --release -p interlink-cli)"
  (cd "$ROOT" && cargo build --release -p interlink-cli --quiet)
  export INTERLINK_BIN="$ROOT/target/release/interlink"
fi

step "parity scenarios"
export INTERLINK_SCENARIO_OUT="${INTERLINK_SCENARIO_OUT:-$ROOT/target/scenario-outcomes}"
(cd "$HERE" && node scenarios/run.mjs)

step "node --test test/*.test.mjs"
cd "$HERE"
exec node --test --test-concurrency=1 --test-timeout=120000 test/*.test.mjs
