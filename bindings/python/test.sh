#!/usr/bin/env bash
# The Python binding's test entry: builds the `interlink` package and runs its suites.
#
#   bindings/python/test.sh
#
# Installs only into project-local places: the venv <repo>/.venv (maturin 1.16.0, pytest
# 9.2.0, pysignalr 1.3.3 for the hub interop tests, its dependencies pinned by
# tests/hub/python/requirements.txt), tests/node/node_modules (hyco-ws, when missing),
# target/ (shared with cargo).
# Steps: venv → the `interlink` binary (unless INTERLINK_BIN is set) → `maturin develop
# --release` → `maturin build` and a clean temp venv that installs and imports the wheel →
# pytest → the parity scenarios (outcomes in $INTERLINK_SCENARIO_OUT/python/, default
# target/scenario-outcomes/python/). The last line is pytest's closing line.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
VENV="$ROOT/.venv"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
START=$SECONDS
section() { printf '\n===== python: %s  [t=%ds]\n' "$1" $((SECONDS - START)); }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

section "toolchain and venv"
python3 --version
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q "maturin==1.16.0" "pytest==9.2.0"
# pysignalr for the hub interop tests; its dependencies pinned like the hub interop suite's.
"$VENV/bin/pip" install -q "pysignalr==1.3.3" -c "$ROOT/tests/hub/python/requirements.txt"
"$VENV/bin/maturin" --version

section "the interlink binary (for the CLI interop tests)"
if [ -z "${INTERLINK_BIN:-}" ]; then
  cargo build --release --locked -p interlink-cli
  export INTERLINK_BIN="$TARGET/release/interlink"
fi
echo "INTERLINK_BIN=$INTERLINK_BIN"

section "node packages (hyco-ws, for the interop tests)"
if [ ! -d tests/node/node_modules/hyco-ws ]; then
  (cd tests/node && npm install --no-audit --no-fund --loglevel=error)
fi
node --version

section "maturin develop --release"
(cd "$HERE" && VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH" maturin develop --locked --release)

section "wheel: maturin build, install into a clean venv, import"
WHEELS="$TARGET/wheels-python"
rm -rf "$WHEELS"
(cd "$HERE" && VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH" maturin build --locked --release -o "$WHEELS")
python3 -m venv "$TMP/venv"
"$TMP/venv/bin/pip" install -q --no-index "$WHEELS"/interlink-*.whl
(cd "$TMP" && "$TMP/venv/bin/python" - <<'EOF'
import asyncio, interlink
assert "site-packages" in interlink.__file__, interlink.__file__
async def main():
    async with interlink.Gateway.start() as gw:
        async with interlink.RelayListener.bind(gw.connection_string, "hc", handler=lambda r: "wheel ok"):
            return (await interlink.RelaySender(gw.connection_string, "hc").request()).text
print(asyncio.run(asyncio.wait_for(main(), 30)), "from", interlink.__file__)
EOF
)

section "scenarios (Python runner)"
"$VENV/bin/python" "$HERE/scenarios/run.py"

section "pytest"
(cd "$HERE" && "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests) | tee "$TMP/pytest.log"
printf '\n===== python: done [t=%ds]\n' $((SECONDS - START))
tail -n 1 "$TMP/pytest.log"
