#!/usr/bin/env bash
# Interop tests of `interlink hub serve` with the real third-party SignalR clients:
#   node:   @microsoft/signalr 10.0.11 + @microsoft/signalr-protocol-msgpack 10.0.11 (node --test)
#   python: pysignalr 1.3.3 (pytest 9.2.0)
#
#   tests/hub/run.sh [node] [python]        # default: both
#
# Uses the binary in $INTERLINK_BIN (default: <repo>/target/release/interlink); it does not build it.
# Installs only into project-local places: tests/hub/node/node_modules (from package-lock.json) and the venv
# tests/hub/python/.venv (from requirements.txt, all versions pinned). Runs every selected suite even when an
# earlier one failed, and exits non-zero if any failed.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
START=$SECONDS
section() { printf '\n===== hub interop: %s  [t=%ds]\n' "$1" $((SECONDS - START)); }

SUITES=("$@")
[ ${#SUITES[@]} -eq 0 ] && SUITES=(node python)
for s in "${SUITES[@]}"; do
  case "$s" in node | python) ;; *) echo "usage: $0 [node] [python]" >&2; exit 2 ;; esac
done

export INTERLINK_BIN="${INTERLINK_BIN:-$ROOT/target/release/interlink}"
case "$INTERLINK_BIN" in /*) ;; *) INTERLINK_BIN="$PWD/$INTERLINK_BIN" ;; esac
if [ ! -f "$INTERLINK_BIN" ] || [ ! -x "$INTERLINK_BIN" ]; then
  echo "error: the interlink binary is missing or not executable: $INTERLINK_BIN" >&2
  echo "       build it (cargo build --release -p interlink-cli) or set INTERLINK_BIN" >&2
  exit 2
fi
echo "INTERLINK_BIN=$INTERLINK_BIN"

FAILED=()
for s in "${SUITES[@]}"; do
  if [ "$s" = node ]; then
    section "node: install (@microsoft/signalr 10.0.11, -protocol-msgpack 10.0.11)"
    node --version
    # `npm install` honours package-lock.json (the repo's convention: `npm ci` trips on other platforms' optional
    # packages elsewhere; these packages have none, so either works).
    (cd "$HERE/node" && npm install --no-audit --no-fund --loglevel=error)
    section "node: node --test"
    if ! (cd "$HERE/node" && node --test --test-concurrency=1 test/); then FAILED+=(node); fi
  else
    section "python: venv (pysignalr 1.3.3, pytest 9.2.0)"
    VENV="$HERE/python/.venv"
    python3 --version
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q -r "$HERE/python/requirements.txt"
    section "python: pytest"
    if ! (cd "$HERE/python" && "$VENV/bin/python" -m pytest -q); then FAILED+=(python); fi
  fi
done

section "done"
if [ ${#FAILED[@]} -ne 0 ]; then
  echo "FAILED suites: ${FAILED[*]}" >&2
  exit 1
fi
