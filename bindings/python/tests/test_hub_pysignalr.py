"""Interop: the third-party ``pysignalr`` client (1.3.3, installed by test.sh) against an
``interlink.HubServer`` whose methods are Python functions.

pysignalr's quirks (spec signalr.md §9, §13 item 11): it negotiates without
``negotiateVersion`` (v0), sends its bearer token only through ``headers``, and its
``run()`` task is cancelled at the end."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

import interlink
from interlink import HubServer
from support import WAIT, run, within

try:
    import pysignalr.client as pysignalr_client
    from pysignalr.exceptions import AuthorizationError
    from pysignalr.protocol.json import JSONProtocol
    from pysignalr.protocol.messagepack import MessagepackProtocol
except ImportError:  # pragma: no cover - test.sh installs it
    pytest.fail("pysignalr is missing: pip install pysignalr==1.3.3 (bindings/python/test.sh does)", pytrace=False)

PROTOCOLS = {"json": JSONProtocol, "messagepack": MessagepackProtocol}
TOKEN = "pysignalr-token"


class Session:
    """A pysignalr client run as a task: bounded invoke, collected server calls."""

    def __init__(self, url: str, protocol: str) -> None:
        self.client = pysignalr_client.SignalRClient(
            url,
            protocol=PROTOCOLS[protocol](),
            headers={"Authorization": f"Bearer {TOKEN}"},
            retry_count=1,
        )
        self.opened = asyncio.Event()
        self.notes: asyncio.Queue = asyncio.Queue()
        self.errors: asyncio.Queue = asyncio.Queue()
        self.task: Any = None

        async def on_open() -> None:
            self.opened.set()

        async def on_error(message: Any) -> None:
            await self.errors.put(message.error)

        async def on_note(args: list) -> None:
            await self.notes.put(args)

        async def on_question(args: list) -> Any:
            return {"doubled": args[0] * 2}

        self.client.on_open(on_open)
        self.client.on_error(on_error)
        self.client.on("note", on_note)
        self.client.on("question", on_question)

    async def __aenter__(self) -> "Session":
        self.task = asyncio.get_running_loop().create_task(self.client.run())
        done, _ = await asyncio.wait({self.task, asyncio.ensure_future(self.opened.wait())}, timeout=WAIT,
                                     return_when=asyncio.FIRST_COMPLETED)
        if self.task in done:
            raise AssertionError(f"pysignalr stopped before opening: {self.task.exception()!r}")
        assert self.opened.is_set(), "pysignalr did not open in time"
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.task.cancel()
        with contextlib.suppress(BaseException):  # websockets' teardown noise
            await asyncio.wait_for(self.task, WAIT)

    async def invoke(self, method: str, *args: Any) -> Any:
        """Sends an invocation with an id; the Completion's result, or ``HubError`` with
        its error text (pysignalr gives error Completions to ``on_error`` and then to the
        invocation's callback)."""
        done = asyncio.get_running_loop().create_future()

        async def on_completion(message: Any) -> None:
            if not done.done():
                done.set_result(message)

        await self.client.send(method, list(args), on_completion)
        message = await within(done, f"the Completion of {method}")
        if message.error:
            assert await within(self.errors.get()) == message.error
            raise interlink.HubError(message.error)
        return message.result


def hub() -> interlink.Opening:
    seen_users = []

    async def echo(ctx, value):
        return value

    def add(ctx, a, b):
        return a + b

    async def fail(ctx):
        raise ValueError("python says no")

    async def ask(ctx, value):
        return await ctx.invoke_caller("question", value)

    async def whoami(ctx):
        seen_users.append(ctx.user_id)
        return {"id": ctx.connection_id, "user": ctx.user_id}

    return HubServer.start(
        methods={"echo": echo, "add": add, "fail": fail, "ask": ask, "whoami": whoami},
        tokens={TOKEN: "py-user"},
        max_parallel_invocations=4,
    )


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_pysignalr_invokes_python_methods_and_answers_server_calls(protocol):
    async def main():
        async with hub() as server:
            async with Session(server.url, protocol) as s:
                out = {
                    "echo": await s.invoke("echo", {"list": [1, "two", None], "x": 1.5}),
                    "add": await s.invoke("add", 20, 22),
                    "whoami": await s.invoke("whoami"),
                    "ask": await s.invoke("ask", 21),
                }
                with pytest.raises(interlink.HubError) as err:
                    await s.invoke("fail")
                out["fail"] = str(err.value)
                out["ids"] = server.connection_ids()
                assert server.broadcast("note", "from python", 7) == 1
                out["note"] = await within(s.notes.get(), "the broadcast at pysignalr")
                out["after"] = await s.invoke("echo", "still connected")
                return out

    out = run(main())
    assert out["echo"] == {"list": [1, "two", None], "x": 1.5}
    assert out["add"] == 42
    assert out["whoami"]["user"] == "py-user" and out["ids"] == [out["whoami"]["id"]]
    assert out["ask"] == {"doubled": 42}
    assert out["fail"] == "An unexpected error occurred invoking 'fail' on the server. HubException: python says no"
    assert out["note"] == ["from python", 7]
    assert out["after"] == "still connected"


def test_pysignalr_without_the_token_is_refused():
    async def main():
        async with hub() as server:
            client = pysignalr_client.SignalRClient(server.url, retry_count=1)
            task = asyncio.get_running_loop().create_task(client.run())
            done, _ = await asyncio.wait({task}, timeout=WAIT)
            if not done:
                task.cancel()
                raise AssertionError("pysignalr without a token kept running")
            return task.exception()

    assert isinstance(run(main()), AuthorizationError)  # its negotiate got 401
