"""Harness for the pysignalr interop tests: the hub server process and a bounded pysignalr session.

The server is `$INTERLINK_BIN hub serve --bind 127.0.0.1:0 [...]` (default <repo>/target/release/interlink).
Readiness comes from its stdout line "listening on http://127.0.0.1:PORT" (never from sleeping).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from pysignalr.client import SignalRClient
from pysignalr.protocol.json import JSONProtocol
from pysignalr.protocol.messagepack import MessagepackProtocol

REPO = Path(__file__).resolve().parents[3]
BIN = Path(os.environ.get("INTERLINK_BIN") or REPO / "target" / "release" / "interlink").resolve()

# Every single wait in these tests is bounded by one of these.
STEP_TIMEOUT = 10.0
TEST_TIMEOUT = 60.0


class Hub:
    """A running `interlink hub serve` whose stdout is read line by line on a thread."""

    def __init__(self, *args: str) -> None:
        self.args = ["hub", "serve", "--bind", "127.0.0.1:0", *args]
        env = dict(os.environ, RUST_BACKTRACE=os.environ.get("RUST_BACKTRACE", "1"), NO_PROXY="127.0.0.1,localhost")
        self.proc = subprocess.Popen(
            [str(BIN), *self.args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=env,
        )
        self.lines: list[str] = []
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=60)
        self._cond = threading.Condition()
        self._stdout_done = False
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        m = self.wait_line(r"listening on (http://127\.0\.0\.1:(\d+))", 20, '"listening on http://127.0.0.1:PORT"')
        self.base = m.group(1)
        self.port = int(m.group(2))

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._stdout_done = True
            self._cond.notify_all()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_tail.append(line.rstrip("\n"))

    def url(self, path: str) -> str:
        return self.base + path

    def describe(self) -> str:
        status = "still running" if self.proc.poll() is None else f"exited with {self.proc.returncode}"
        out = "\n    ".join(self.lines[-20:])
        err = "\n    ".join(self.stderr_tail)
        return f"[hub] {BIN} {' '.join(self.args)}\n  status: {status}\n  stdout (tail):\n    {out}\n  stderr (tail):\n    {err}"

    def wait_line(self, pattern: str, timeout: float, what: str) -> re.Match[str]:
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    m = rx.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if self._stdout_done or left <= 0:
                    break
                self._cond.wait(min(left, 0.2))
        if self._stdout_done:
            raise AssertionError(f"the hub ended its stdout without printing {what}\n{self.describe()}")
        raise AssertionError(f"timed out after {timeout} s waiting for the hub to print {what}\n{self.describe()}")

    def redirect_token(self) -> str:
        """The token of the "redirect token <token>" stdout line (provoked by one /redirect negotiate if need be)."""
        pattern = r"redirect token (\S+)"
        try:
            return self.wait_line(pattern, 1, '"redirect token <token>"').group(1)
        except AssertionError:
            http_post(self.url("/redirect/negotiate?negotiateVersion=1"))
            return self.wait_line(pattern, 5, '"redirect token <token>"').group(1)

    def assert_alive(self) -> None:
        assert self.proc.poll() is None, f"the hub server is no longer running\n{self.describe()}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def http_post(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, data=b"", method="POST", headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=STEP_TIMEOUT) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


PROTOCOLS = {"json": JSONProtocol, "messagepack": MessagepackProtocol}


class InvocationError(Exception):
    pass


class Session:
    """A pysignalr SignalRClient run as a task, with bounded helpers. `messages` collects `message(id, text)` calls."""

    def __init__(self, url: str, protocol: str = "json", headers: dict[str, str] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("retry_count", 1)  # fail fast instead of retrying a failed negotiate
        self.url = url
        self.client = SignalRClient(url, protocol=PROTOCOLS[protocol](), headers=headers, **kwargs)
        self.opened = asyncio.Event()
        self.open_count = 0
        self.close_count = 0
        self.completion_errors: list[Any] = []
        self.messages: asyncio.Queue[list[Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.client.on_open(self._on_open)
        self.client.on_close(self._on_close)
        self.client.on_error(self._on_error)
        self.client.on("message", self._on_message)

    async def _on_open(self) -> None:
        self.open_count += 1
        self.opened.set()

    async def _on_close(self) -> None:
        self.close_count += 1

    async def _on_error(self, message: Any) -> None:
        self.completion_errors.append(message)

    async def _on_message(self, args: list[Any]) -> None:
        await self.messages.put(args)

    def client_failure(self) -> BaseException | None:
        if self.task is not None and self.task.done() and not self.task.cancelled():
            return self.task.exception()
        return None

    async def race(self, aw: Any, what: str, timeout: float = STEP_TIMEOUT) -> Any:
        """Awaits `aw`, bounded, and fails at once (with the cause) if the client task dies meanwhile."""
        fut = asyncio.ensure_future(aw)
        waiters = {fut} if self.task is None else {fut, self.task}
        done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if fut in done:
            return fut.result()
        fut.cancel()
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # no "exception never retrieved" noise
        if self.task is not None and self.task in done:
            raise AssertionError(f"the pysignalr client stopped while waiting for {what}: {self.client_failure()!r}")
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")

    async def start(self) -> None:
        self.task = asyncio.create_task(self.client.run())
        await self.race(self.opened.wait(), f"pysignalr to connect to {self.url}")

    async def invoke(self, method: str, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()

        async def on_completion(message: Any) -> None:
            if not fut.done():
                fut.set_result(message)

        await self.race(self.client.send(method, list(args), on_completion), f"send of {method}")
        message = await self.race(fut, f"the completion of {method}")
        if message.error:
            raise InvocationError(message.error)
        return message.result

    async def send(self, method: str, *args: Any) -> None:
        """Non-blocking: no invocation id, no completion expected."""
        await self.race(self.client.send(method, list(args)), f"send of {method}")

    async def next_message(self, what: str = 'a "message" invocation') -> list[Any]:
        return await self.race(self.messages.get(), what)

    async def stream(self, method: str, *args: Any) -> list[Any]:
        loop = asyncio.get_running_loop()
        items: list[Any] = []
        done: asyncio.Future[Any] = loop.create_future()

        async def on_next(item: Any) -> None:
            items.append(item)

        async def on_complete(message: Any) -> None:
            if not done.done():
                done.set_result(message)

        async def on_error(message: Any) -> None:
            if not done.done():
                done.set_exception(InvocationError(getattr(message, "error", message)))

        await self.race(self.client.stream(method, list(args), on_next, on_complete, on_error), f"stream of {method}")
        await self.race(done, f"the stream {method} to complete (got {items})")
        return items

    async def close(self) -> None:
        """Cancels the client task and ignores websockets' teardown noise."""
        if self.task is None:
            return
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(asyncio.gather(self.task, return_exceptions=True), STEP_TIMEOUT)


def run(coro_fn, *args: Any) -> None:
    """Runs one async test body with asyncio.run, bounded by TEST_TIMEOUT."""

    async def main() -> None:
        await asyncio.wait_for(coro_fn(*args), TEST_TIMEOUT)

    asyncio.run(main())


# pysignalr and websockets log reconnect/teardown chatter at WARNING/ERROR; keep it out of the way.
for name in ("pysignalr", "pysignalr.client", "pysignalr.transport", "websockets"):
    logging.getLogger(name).setLevel(logging.CRITICAL)
