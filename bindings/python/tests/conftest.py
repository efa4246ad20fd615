"""Fixtures of the interlink Python tests: the `interlink` binary and Node's hyco-ws."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from support import ROOT


@pytest.fixture(scope="session")
def interlink_bin() -> str:
    """The `interlink` binary: $INTERLINK_BIN, else target/release or target/debug."""
    candidates = [os.environ.get("INTERLINK_BIN", "")]
    candidates += [str(ROOT / "target/release/interlink"), str(ROOT / "target/debug/interlink")]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    pytest.fail("no interlink binary: set INTERLINK_BIN or run `cargo build --release -p interlink-cli`")


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """tests/node/node_modules with hyco-ws installed (`npm install` in tests/node)."""
    nm = Path(os.environ.get("INTERLINK_NODE_MODULES", ROOT / "tests/node/node_modules"))
    if shutil.which("node") is None or not (nm / "hyco-ws").is_dir():
        pytest.fail(f"node and {nm}/hyco-ws are needed: run `npm install` in tests/node")
    return nm
