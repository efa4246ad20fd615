"""pytest wiring for the pysignalr interop tests (helpers live in harness.py)."""

from __future__ import annotations

import os

import pytest
from harness import BIN, Hub


def pytest_configure(config: pytest.Config) -> None:
    if not BIN.is_file():
        raise pytest.UsageError(
            f"interlink binary not found: {BIN} (INTERLINK_BIN={os.environ.get('INTERLINK_BIN', '<unset>')}). "
            "Build it (cargo build --release -p interlink-cli) or point INTERLINK_BIN at it."
        )


@pytest.fixture
def hub_factory():
    """hub_factory(*extra_args) starts a server; all are stopped (SIGTERM, then SIGKILL) after the test."""
    hubs: list[Hub] = []

    def start(*args: str) -> Hub:
        h = Hub(*args)
        hubs.append(h)
        return h

    yield start
    for h in hubs:
        h.stop()


@pytest.fixture
def hub(hub_factory) -> Hub:
    return hub_factory()


