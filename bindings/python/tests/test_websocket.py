"""WebSockets through the relay: accepted by a Python listener, opened by a Python sender."""

from __future__ import annotations

import asyncio

import pytest

import interlink
from interlink import Gateway, RelayListener, RelaySender
from support import echo_sockets, pattern, run, within


def test_text_and_binary_messages_are_echoed_and_the_close_comes_back():
    async def main():
        async with Gateway.start() as gw:
            async with RelayListener.bind(gw.connection_string, "hc1") as listener:
                echo = asyncio.get_running_loop().create_task(echo_sockets(listener))
                ws = await within(RelaySender(gw.connection_string, "hc1").connect("chat?room=1"))
                got = []
                for m in ["one", "zwei", "caf\u00e9 \U0001f680", pattern(70_000), b""]:
                    await ws.send(m)
                    got.append(await within(ws.receive()))
                await ws.close(4000, "bye")
                with pytest.raises(interlink.ConnectionClosed) as closed:
                    await within(ws.receive())
                await listener.close()
                await within(echo)
                return got, closed.value

    got, closed = run(main())
    assert got == ["one", "zwei", "caf\u00e9 \U0001f680", pattern(70_000), b""]
    # the echoing side answers the Close with the same code (io's WebSocket does)
    assert (closed.close_code, closed.code) == (4000, "connection_closed")
    assert isinstance(closed, interlink.ClosedError)


def test_accepted_sockets_carry_the_senders_path_headers_and_protocol():
    async def main():
        async with Gateway.start() as gw:
            async with RelayListener.bind(gw.connection_string, "hc1") as listener:
                sender = RelaySender(gw.connection_string, "hc1")
                opening = asyncio.get_running_loop().create_task(sender.connect("a/b?x=1", ["chat.v2", "chat.v1"]))
                accepted = await within(listener.accept())
                ws = await within(opening)
                await accepted.send("from the listener")
                first = await within(ws.receive())
                await ws.send("from the sender")
                second = await within(accepted.receive())
                await ws.close()
                async for _ in accepted:  # ends at the sender's Close
                    pass
                return accepted, ws, first, second

    accepted, ws, first, second = run(main())
    assert accepted.path == "/hc1/a/b?x=1"
    assert accepted.protocol == ws.protocol == "chat.v2"
    assert any(n.lower() == "sec-websocket-protocol" for n, _ in accepted.headers)
    assert accepted.id
    assert ws.path is None
    assert (first, second) == ("from the listener", "from the sender")


def test_accept_filters_reject_with_their_status():
    def decide(info: interlink.AcceptInfo):
        return {
            "/hc1/ok": None,
            "/hc1/yes": True,
            "/hc1/no": False,
            "/hc1/teapot": 418,
            "/hc1/custom": (400, "bad room"),
        }.get(info.path, "not a verdict")

    async def main():
        outcomes = {}
        async with Gateway.start() as gw:
            async with RelayListener.bind(gw.connection_string, "hc1", accept_filter=decide) as listener:
                sender = RelaySender(gw.connection_string, "hc1")
                for path in ["ok", "yes", "no", "teapot", "custom", "other"]:
                    try:
                        ws = await within(sender.connect(path))
                        accepted = await within(listener.accept())
                        await ws.close()
                        await accepted.close()
                        outcomes[path] = "accepted"
                    except interlink.RelayError as e:
                        outcomes[path] = (type(e).__name__, e.status)
        return outcomes

    assert run(main()) == {
        "ok": "accepted",
        "yes": "accepted",
        "no": ("AuthError", 403),
        "teapot": ("RefusedError", 418),
        "custom": ("RefusedError", 400),
        "other": ("RefusedError", 502),
    }


def test_a_raising_accept_filter_rejects_with_502():
    def decide(info):
        raise ValueError("no")

    async def main():
        async with Gateway.start() as gw:
            async with RelayListener.bind(gw.connection_string, "hc1", accept_filter=decide):
                with pytest.raises(interlink.RefusedError) as refused:
                    await within(RelaySender(gw.connection_string, "hc1").connect())
                return refused.value

    assert run(main()).status == 502


def test_sending_on_a_closed_socket_raises_closed_error():
    async def main():
        async with Gateway.start() as gw:
            async with RelayListener.bind(gw.connection_string, "hc1") as listener:
                sender = RelaySender(gw.connection_string, "hc1")
                opening = asyncio.get_running_loop().create_task(sender.connect())
                accepted = await within(listener.accept())
                ws = await within(opening)
                await accepted.close(1001, "going")
                with pytest.raises(interlink.ConnectionClosed) as closed:
                    await within(ws.receive())
                assert (closed.value.close_code, closed.value.close_reason) == (1001, "going")
                with pytest.raises(interlink.ClosedError) as err:
                    for _ in range(100):  # the socket ends shortly after the close handshake
                        await ws.send("late")
                        await asyncio.sleep(0.02)
                return err.value

    assert run(main()).code == "closed"


def test_fifty_sockets_at_once():
    async def main():
        async with Gateway.start() as gw:
            async with RelayListener.bind(gw.connection_string, "hc1") as listener:
                echo = asyncio.get_running_loop().create_task(echo_sockets(listener))
                sender = RelaySender(gw.connection_string, "hc1")

                async def one(i: int) -> str:
                    ws = await sender.connect(f"n{i}")
                    await ws.send(f"message {i}")
                    reply = await ws.receive()
                    await ws.close()
                    return reply

                replies = await within(asyncio.gather(*(one(i) for i in range(50))))
                await listener.close()
                await within(echo)
                return replies

    assert run(main(), timeout=60) == [f"message {i}" for i in range(50)]


def test_awaiting_receive_can_be_cancelled():
    async def main():
        async with Gateway.start() as gw:
            async with RelayListener.bind(gw.connection_string, "hc1") as listener:
                echo = asyncio.get_running_loop().create_task(echo_sockets(listener))
                ws = await within(RelaySender(gw.connection_string, "hc1").connect())
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(ws.receive(), 0.2)
                await ws.send("still works")
                reply = await within(ws.receive())
                await ws.close()
                await listener.close()
                await within(echo)
                return reply

    assert run(main()) == "still works"
