"""SignalR hubs, Python on both sides: ``interlink.HubClient`` against ``interlink.HubServer``
with Python methods, in JSON and in MessagePack."""

from __future__ import annotations

import asyncio
import builtins

import pytest

import interlink
from interlink import HubClient, HubServer
from support import run, within

PROTOCOLS = ["json", "messagepack"]


class Hub:
    """The methods of the test hub, and what they saw."""

    def __init__(self) -> None:
        self.sent: asyncio.Queue = asyncio.Queue()
        self.cancelled = asyncio.Event()
        self.contexts = []

    async def echo(self, ctx, value):
        return value

    def add(self, ctx, a, b):  # a plain function works too
        return a + b

    async def nothing(self, ctx):
        return None

    async def fail(self, ctx, text):
        raise ValueError(text)

    async def record(self, ctx, value):
        await self.sent.put((ctx.connection_id, value))

    async def whoami(self, ctx):
        self.contexts.append(ctx)
        return {"id": ctx.connection_id, "user": ctx.user_id, "protocol": ctx.protocol, "transport": ctx.transport}

    async def ask(self, ctx, method, value):
        return await ctx.invoke_caller(method, value)

    async def join(self, ctx, group):
        return ctx.add_to_group(group)

    async def leave(self, ctx, group):
        return ctx.remove_from_group(group)

    async def shout(self, ctx, group, text):
        return ctx.send_to_group(group, "message", ctx.connection_id, text)

    async def everyone(self, ctx, text):
        return ctx.broadcast("message", ctx.connection_id, text)

    async def counter(self, ctx, count, delay):
        for i in range(count):
            yield i
            await asyncio.sleep(delay)

    async def ticks(self, ctx):
        try:
            i = 0
            while True:
                yield i
                i += 1
                await asyncio.sleep(0.01)
        finally:
            self.cancelled.set()

    async def broken_stream(self, ctx, n):
        for i in range(n):
            yield i
        raise RuntimeError("the stream broke")

    async def total(self, ctx, start, stream):
        async for item in stream:
            start += item
        return start

    def server(self, **options) -> interlink.Opening:
        return HubServer.start(
            methods={
                "echo": self.echo,
                "add": self.add,
                "nothing": self.nothing,
                "fail": self.fail,
                "record": self.record,
                "whoami": self.whoami,
                "ask": self.ask,
                "join": self.join,
                "leave": self.leave,
                "shout": self.shout,
                "everyone": self.everyone,
            },
            stream_methods={"counter": self.counter, "ticks": self.ticks, "broken": self.broken_stream},
            upload_methods={"total": self.total},
            max_parallel_invocations=4,
            **options,
        )


class Inbox:
    """Collects ``message(sender, text)`` calls of one client."""

    def __init__(self, client: HubClient) -> None:
        self.queue: asyncio.Queue = asyncio.Queue()
        client.on("message", lambda sender, text: self.queue.put_nowait(text))

    async def next(self) -> str:
        return await within(self.queue.get(), "a message")


VALUES = [
    None,
    True,
    False,
    0,
    -5,
    2**40,
    2**63 - 1,
    -(2**63),
    1.5,
    -0.25,
    "",
    "caf\u00e9 \U0001f680",
    [],
    [1, "two", [3.0, None]],
    {},
    {"b": 1, "a": {"nested": [True, {"deep": "x"}]}},
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_invoke_round_trips_values_and_void_results(protocol):
    hub = Hub()

    async def main():
        async with hub.server() as server:
            assert server.url == f"http://{server.local_addr}/hub"
            async with HubClient(server.url, protocol) as client:
                echoed = [await within(client.invoke("echo", v)) for v in VALUES]
                keys = list((await within(client.invoke("echo", {"z": 1, "a": 2, "m": 3}))).keys())
                tuple_ = await within(client.invoke("echo", (1, 2)))
                added = await within(client.invoke("add", 2, 3))
                concatenated = await within(client.invoke("add", "a", "b"))
                void = await within(client.invoke("nothing"))
                raw = await within(client.invoke("echo", b"\x00\x01\xff"))
                return echoed, keys, tuple_, added, concatenated, void, raw, client.protocol

    echoed, keys, tuple_, added, concatenated, void, raw, used = run(main())
    assert echoed == VALUES
    assert keys == ["z", "a", "m"]  # dict order is kept both ways
    assert tuple_ == [1, 2]
    assert (added, concatenated, void) == (5, "ab", None)
    assert used == protocol
    # bytes: MessagePack bin both ways; JSON carries them as base64, like .NET's byte[]
    assert raw == (b"\x00\x01\xff" if protocol == "messagepack" else "AAH/")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_handler_errors_become_hub_errors_and_the_connection_stays_up(protocol):
    hub = Hub()

    async def main():
        async with hub.server() as server:
            async with HubClient(server.url, protocol) as client:
                errors = {}
                for name, call in {
                    "raised": client.invoke("fail", "bad thing"),
                    "unknown": client.invoke("nope"),
                    "count": client.invoke("echo", 1, 2),
                    "stream as unary": client.invoke("counter", 1, 0),
                }.items():
                    with pytest.raises(interlink.HubError) as err:
                        await within(call)
                    errors[name] = err.value
                return errors, await within(client.invoke("echo", "still up"))

    errors, after = run(main())
    assert after == "still up"
    assert str(errors["raised"]) == (
        "An unexpected error occurred invoking 'fail' on the server. HubException: bad thing"
    )
    assert errors["raised"].code == "hub"
    assert isinstance(errors["raised"], interlink.RelayError)
    assert str(errors["unknown"]) == "Unknown hub method 'nope'"
    assert str(errors["count"]) == "Invocation provides 2 argument(s) but target expects 1."
    assert "streaming 'counter' method with a non-streaming invocation" in str(errors["stream as unary"])


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_send_runs_the_method_without_a_result(protocol):
    hub = Hub()

    async def main():
        async with hub.server() as server:
            async with HubClient(server.url, protocol) as client:
                assert await within(client.send("record", {"n": 1})) is None
                await within(client.send("record", [2]))
                first = await within(hub.sent.get())
                second = await within(hub.sent.get())
                return client.connection_id, first, second

    cid, first, second = run(main())
    assert first == (cid, {"n": 1})
    assert second == (cid, [2])


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_streams_deliver_items_and_leaving_the_loop_cancels_them(protocol):
    hub = Hub()

    async def main():
        async with hub.server() as server:
            async with HubClient(server.url, protocol) as client:
                items = [i async for i in client.stream("counter", 5, 0.001)]
                empty = [i async for i in client.stream("counter", 0, 0)]
                seen = []
                async for i in client.stream("ticks"):
                    seen.append(i)
                    if i == 3:
                        break
                await within(hub.cancelled.wait(), "the server to see the cancel")
                hub.cancelled.clear()
                explicit = client.stream("ticks")
                first = await within(explicit.__anext__())
                await explicit.aclose()
                await within(hub.cancelled.wait(), "the server to see aclose")
                broken = []
                with pytest.raises(interlink.HubError) as err:
                    async for i in client.stream("broken", 2):
                        broken.append(i)
                return items, empty, seen, first, broken, err.value, await within(client.invoke("echo", 7))

    items, empty, seen, first, broken, error, after = run(main())
    assert items == [0, 1, 2, 3, 4]
    assert empty == []
    assert seen == [0, 1, 2, 3]
    assert first == 0
    assert broken == [0, 1]
    assert "HubException: the stream broke" in str(error)
    assert after == 7


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_server_to_client_calls_return_client_results(protocol):
    hub = Hub()

    async def main():
        async with hub.server() as server:
            async with HubClient(server.url, protocol) as client:
                client.on("double", lambda v: v * 2)

                @client.on("slowly")
                async def slowly(v):
                    await asyncio.sleep(0.01)
                    return {"got": v}

                @client.on("refuse")
                def refuse(v):
                    raise KeyError("not today")

                client.on("silent", lambda v: None)
                results = {
                    "sync": await within(client.invoke("ask", "double", 21)),
                    "async": await within(client.invoke("ask", "Slowly", "x")),  # names are case-insensitive
                }
                errors = {}
                for name in ["refuse", "silent", "missing"]:
                    with pytest.raises(interlink.HubError) as err:
                        await within(client.invoke("ask", name, 1))
                    errors[name] = str(err.value)
                return results, errors

    results, errors = run(main())
    assert results == {"sync": 42, "async": {"got": "x"}}
    assert errors["refuse"].endswith("HubException: 'not today'")
    assert errors["silent"].endswith("HubException: Client didn't provide a result.")
    assert errors["missing"].endswith("HubException: Client didn't provide a result.")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_groups_and_broadcasts(protocol):
    hub = Hub()

    async def main():
        async with hub.server() as server:
            async with HubClient(server.url, protocol) as a, HubClient(server.url, "json") as b:
                inbox_a, inbox_b = Inbox(a), Inbox(b)
                assert sorted(server.connection_ids()) == sorted([a.connection_id, b.connection_id])
                assert await within(a.invoke("join", "g")) is True
                assert await within(a.invoke("join", "g")) is False
                assert await within(a.invoke("shout", "g", "to g")) == 1
                assert await inbox_a.next() == "to g"
                # b is not a member: the next thing b gets is the broadcast after it
                assert await within(b.invoke("everyone", "hello all")) == 2
                assert (await inbox_a.next(), await inbox_b.next()) == ("hello all", "hello all")
                # from outside the hub
                assert server.add_to_group(b.connection_id, "g") is True
                assert server.send_to_group("g", "message", "server", "outside g") == 2
                assert (await inbox_a.next(), await inbox_b.next()) == ("outside g", "outside g")
                assert await within(a.invoke("leave", "g")) is True
                assert server.remove_from_group(b.connection_id, "g") is True
                assert server.send_to_group("g", "message", "server", "nobody") == 0
                assert server.send_to_connection(b.connection_id, "message", "server", "just b") == 1
                assert await inbox_b.next() == "just b"
                assert server.broadcast("message", "server", b"\x01") == 2
                got = (await inbox_a.next(), await inbox_b.next())
                with pytest.raises(interlink.HubError):
                    server.add_to_group("no-such-connection", "g")
                return got, inbox_a.queue.qsize(), inbox_b.queue.qsize()

    got, left_a, left_b = run(main())
    # a fan-out is encoded in MessagePack: bytes stay bin there and become base64 in JSON
    assert got == ((b"\x01" if protocol == "messagepack" else "AQ=="), "AQ==")
    assert (left_a, left_b) == (0, 0)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_upload_streams_reach_upload_methods(protocol):
    hub = Hub()

    async def numbers(n):
        for i in range(1, n + 1):
            yield i
            await asyncio.sleep(0)

    async def main():
        async with hub.server() as server:
            async with HubClient(server.url, protocol) as client:
                return (
                    await within(client.invoke("total", 100, numbers(10))),
                    await within(client.invoke("total", 0, numbers(0))),
                )

    assert run(main()) == (155, 0)


def test_bearer_tokens_authenticate_and_name_the_user():
    hub = Hub()

    async def main():
        async with hub.server(tokens={"alice-token": "alice", "anon-token": None}) as server:
            with pytest.raises(interlink.AuthError) as refused:
                await within(HubClient(server.url).start())
            with pytest.raises(interlink.AuthError):
                await within(HubClient(server.url, access_token="wrong").start())
            async with HubClient(server.url, access_token="alice-token") as alice, HubClient(
                server.url, headers={"Authorization": "Bearer anon-token"}
            ) as anon:
                inbox = Inbox(alice)
                me = await within(alice.invoke("whoami"))
                other = await within(anon.invoke("whoami"))
                assert server.send_to_user("alice", "message", "server", "for alice") == 1
                return refused.value, me, other, await inbox.next()

    refused, me, other, message = run(main())
    assert (refused.status, refused.code) == (401, "unauthorized")
    assert me["user"] == "alice" and other["user"] is None
    assert me["transport"] == "WebSockets"
    assert message == "for alice"


def test_lifecycle_close_and_automatic_reconnect():
    hub = Hub()

    async def main():
        async with hub.server() as server:
            closed = asyncio.get_running_loop().create_future()
            client = HubClient(server.url, "messagepack")
            client.on_close(lambda error: closed.set_result(error))
            await within(client.start())
            assert client.state == "connected"
            assert server.close_connection(client.connection_id, "bye now")
            error = await within(closed, "on_close")
            assert client.state == "disconnected"
            with pytest.raises(interlink.HubConnectionError) as not_connected:
                await within(client.invoke("echo", 1))

            events = asyncio.Queue()
            again = HubClient(server.url, automatic_reconnect=[0, 0.1])
            again.on_reconnecting(lambda e: events.put_nowait(("reconnecting", e)))

            async def reconnected(cid):
                await events.put(("reconnected", cid))

            again.on_reconnected(reconnected)
            again.on_close(lambda e: events.put_nowait(("closed", e)))
            async with again:
                first_id = again.connection_id
                server.close_connection(first_id, None, allow_reconnect=True)
                kinds = [await within(events.get()), await within(events.get())]
                echoed = await within(again.invoke("echo", "after reconnect"))
            final = await within(events.get())
            return error, not_connected.value, first_id, kinds, echoed, again.connection_id, final

    error, not_connected, first_id, kinds, echoed, last_id, final = run(main())
    assert isinstance(error, interlink.HubConnectionError) and isinstance(error, builtins.ConnectionError)
    assert error.code == "server_closed" and "bye now" in str(error)
    assert not_connected.code == "not_connected"
    assert kinds[0] == ("reconnecting", None)
    assert kinds[1][0] == "reconnected" and kinds[1][1] not in (None, first_id)
    assert echoed == "after reconnect"
    assert last_id is None
    assert final == ("closed", None)


def test_start_failures_and_arguments():
    async def main():
        async with HubServer.start(path="/x", methods={"one": (lambda ctx, *a: len(a), 3)}) as server:
            out = {}
            with pytest.raises(interlink.NotFoundError) as err:
                await within(HubClient(f"http://{server.local_addr}/elsewhere").start())
            out["404"] = err.value
            with pytest.raises(interlink.ConfigError) as err:
                await within(HubClient("ftp://nowhere/hub").start())
            out["url"] = err.value
            with pytest.raises(interlink.ConfigError):
                HubClient(server.url, protocol="xml")
            async with HubClient(server.url) as client:
                out["explicit count"] = await within(client.invoke("one", 1, 2, 3))
                with pytest.raises(interlink.ConfigError) as err:
                    await within(client.invoke("one", object(), 2, 3))
                out["unsendable"] = err.value
                with pytest.raises(interlink.HubConnectionError):
                    await within(client.start())
            return out

    out = run(main())
    assert (out["404"].status, out["404"].code) == (404, "not_found")
    assert out["url"].code == "invalid_url"
    assert out["explicit count"] == 3
    assert out["unsendable"].code == "invalid_value"
    with pytest.raises(interlink.ConfigError, match=r"\*args"):
        HubServer.start(methods={"bad": lambda ctx, *args: None})


def test_a_closed_server_ends_its_clients():
    hub = Hub()

    async def main():
        server = await hub.server()
        closed = asyncio.get_running_loop().create_future()
        client = HubClient(server.url)
        client.on_close(lambda e: closed.done() or closed.set_result(e))
        await within(client.start())
        await within(server.close())
        await within(server.close())  # idempotent
        await within(closed, "on_close after the server closed")
        await within(client.stop())
        return client.state

    assert run(main()) == "disconnected"


def test_connection_hooks_run_in_python():
    async def main():
        seen = asyncio.Queue()

        async def connected(ctx):
            ctx.add_to_group("lobby")
            answer = await ctx.invoke_caller("hello", ctx.connection_id)
            await seen.put(("connected", ctx.connection_id, answer))

        def disconnected(ctx, error):
            seen.put_nowait(("disconnected", ctx.connection_id, error))

        async with HubServer.start(
            methods={"ping": lambda ctx: "pong"}, on_connected=connected, on_disconnected=disconnected
        ) as server:
            client = HubClient(server.url, "messagepack")
            client.on("hello", lambda cid: f"hi {cid}")
            inbox = Inbox(client)
            async with client:
                cid = client.connection_id
                first = await within(seen.get())
                pong = await within(client.invoke("ping"))
                assert server.send_to_group("lobby", "message", "server", "welcome") == 1
                message = await inbox.next()
            last = await within(seen.get())
            return cid, first, pong, message, last

    cid, first, pong, message, last = run(main())
    assert first == ("connected", cid, f"hi {cid}")
    assert (pong, message) == ("pong", "welcome")
    assert last == ("disconnected", cid, None)
