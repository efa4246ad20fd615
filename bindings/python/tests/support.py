"""Helpers of the interlink Python tests.

Every test runs its coroutine with ``run`` (a fresh event loop, bounded to 30 s); every
gateway binds 127.0.0.1 on an OS-chosen port; every wait is bounded.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Awaitable, Callable, Coroutine, TypeVar

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[3]
#: How long any single wait in a test may take.
WAIT = 10.0


def run(coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
    """Runs ``coro`` on a fresh event loop, failing after ``timeout`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def within(awaitable: Awaitable[T], what: str = "the operation") -> T:
    """Awaits ``awaitable`` for at most ``WAIT`` seconds. (Not ``asyncio.wait_for``: its
    timeout is a ``TimeoutError``, like ``interlink.TimeoutError``, which tests expect.)"""
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=WAIT)
    if not done:
        task.cancel()
        raise AssertionError(f"timed out after {WAIT} s waiting for {what}")
    return task.result()


def pattern(n: int) -> bytes:
    """``n`` bytes, byte i = i % 251 (the scenarios' pattern)."""
    return bytes(i % 251 for i in range(n))


async def echo_sockets(listener: Any) -> None:
    """Accepts sockets until the listener stops and echoes every message on each."""

    async def echo(ws: Any) -> None:
        async for message in ws:
            await ws.send(message)

    tasks = set()
    async for ws in listener:
        t = asyncio.get_running_loop().create_task(echo(ws))
        tasks.add(t)
        t.add_done_callback(tasks.discard)


async def read_line(stream: asyncio.StreamReader, want: Callable[[str], bool], what: str) -> str:
    """Reads lines from ``stream`` until one satisfies ``want`` (bounded by ``WAIT``)."""
    seen = []

    async def scan() -> str:
        while True:
            raw = await stream.readline()
            if not raw:
                raise AssertionError(f"stream ended before {what}; saw {seen!r}")
            line = raw.decode("utf-8", "replace").rstrip("\n")
            seen.append(line)
            if want(line):
                return line

    return await within(scan(), what)
