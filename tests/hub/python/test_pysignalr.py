"""Interop tests: the real `pysignalr==1.3.3` client (WebSockets only; JSON and MessagePack) against
`interlink hub serve`.

What pysignalr does differently from the JS client (spec §4, §9): it negotiates without `negotiateVersion` (so
the server must answer v0), it does not re-negotiate after a redirect but opens the WebSocket straight on the
returned `url` without `id`, it sends SignalR Pings unconditionally, and it raises on message types 8/9 (Ack,
Sequence), which a server must therefore never send to it.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from harness import Hub, InvocationError, Session, http_post, run
from pysignalr.exceptions import AuthorizationError

PROTOCOL_NAMES = ["json", "messagepack"]


def test_negotiate_without_version_is_answered_as_v0(hub: Hub) -> None:
    # What pysignalr sends: POST {base}/negotiate, no negotiateVersion, no body.
    status, body = http_post(hub.url("/demo/negotiate"))
    assert status == 200, body
    data = json.loads(body)
    assert isinstance(data.get("connectionId"), str) and data["connectionId"], data
    assert data.get("negotiateVersion", 0) == 0, data
    # v0 has no separate token: the connectionId is the `id` (a token, if present, must equal it).
    assert data.get("connectionToken", data["connectionId"]) == data["connectionId"], data
    assert "WebSockets" in [t.get("transport") for t in data.get("availableTransports", [])], data
    assert "useStatefulReconnect" not in data, data


@pytest.mark.parametrize("protocol", PROTOCOL_NAMES)
def test_echo_and_add_round_trip(hub: Hub, protocol: str) -> None:
    async def body() -> None:
        s = Session(hub.url("/demo"), protocol)
        try:
            await s.start()
            values = [
                "hello",
                "",
                "h\u00e9llo \u2713 \U0001f680",
                42,
                -3.25,
                2**40,
                True,
                False,
                [1, "two", [3]],
                {"text": "x", "n": 1, "list": [1, "two", {"three": 3}], "inner": {"flag": False, "nothing": None}},
            ]
            if protocol == "messagepack":
                values.append(bytes([0, 1, 2, 127, 128, 255, 0x1E]))
            for v in values:
                assert await s.invoke("echo", v) == v, f"echo({v!r})"
            assert await s.invoke("add", 2, 3) == 5
            assert await s.invoke("add", -7, 100) == 93

            info = await s.invoke("connectionInfo")
            assert info["protocol"] == protocol
            assert info["version"] == 1, "pysignalr always sends handshake version 1"
            assert info["transport"] == "WebSockets"
            assert info["statefulReconnect"] is False
            assert await s.invoke("whoami") == info["connectionId"]

            with pytest.raises(InvocationError):
                await s.invoke("noSuchMethod", 1)
            assert await s.invoke("echo", "still here") == "still here"
            assert s.client_failure() is None
            hub.assert_alive()
        finally:
            await s.close()

    run(body)


@pytest.mark.parametrize("protocol", PROTOCOL_NAMES)
def test_server_to_client_message_via_broadcast(hub: Hub, protocol: str) -> None:
    async def body() -> None:
        a = Session(hub.url("/demo"), protocol)
        b = Session(hub.url("/demo"), protocol)
        try:
            await a.start()
            await b.start()
            a_id = await a.invoke("whoami")
            b_id = await b.invoke("whoami")
            assert a_id != b_id
            await a.invoke("broadcast", "hi from a")
            assert await a.next_message() == [a_id, "hi from a"]
            assert await b.next_message() == [a_id, "hi from a"]
            # Non-blocking send (no invocation id): it runs, and nothing answers it.
            await b.send("broadcast", "fire and forget")
            assert await a.next_message() == [b_id, "fire and forget"]
            assert await b.next_message() == [b_id, "fire and forget"]
            # Groups.
            await a.invoke("joinGroup", "py")
            await b.invoke("sendToGroup", "py", "to the group")
            assert await a.next_message() == [b_id, "to the group"]
            await b.invoke("broadcast", "marker")
            assert await b.next_message() == [b_id, "marker"], "the non-member got only the marker"
            assert await a.next_message() == [b_id, "marker"]
            assert a.completion_errors == [] and b.completion_errors == []
            assert a.client_failure() is None and b.client_failure() is None
        finally:
            await a.close()
            await b.close()

    run(body)


@pytest.mark.parametrize("protocol", PROTOCOL_NAMES)
def test_stream_and_client_result(hub: Hub, protocol: str) -> None:
    async def body() -> None:
        s = Session(hub.url("/demo"), protocol)

        async def question(args: list) -> str:
            return f"py says {args[0]}"

        s.client.on("question", question)
        try:
            await s.start()
            assert await s.stream("counter", 5, 10) == [0, 1, 2, 3, 4]
            assert await s.invoke("ask", "hi") == "py says hi"
            assert await s.invoke("echo", "after") == "after"
            assert s.client_failure() is None
        finally:
            await s.close()

    run(body)


@pytest.mark.parametrize("protocol", PROTOCOL_NAMES)
def test_redirect_goes_straight_to_the_websocket_with_the_bearer_header(hub: Hub, protocol: str) -> None:
    async def body() -> None:
        token = hub.redirect_token()
        s = Session(hub.url("/redirect"), protocol, headers={"Authorization": f"Bearer {token}"})
        try:
            await s.start()
            ws_url = s.client._transport._url  # where pysignalr actually connected
            assert ws_url.startswith(f"ws://127.0.0.1:{hub.port}/client/"), ws_url
            assert "hub=demo" in ws_url and "id=" not in ws_url, f"pysignalr connects without id: {ws_url}"
            assert await s.invoke("echo", "via redirect") == "via redirect"
            assert await s.invoke("add", 1, 2) == 3
            info = await s.invoke("connectionInfo")
            assert info["transport"] == "WebSockets" and info["protocol"] == protocol
            assert s.client_failure() is None
        finally:
            await s.close()

    run(body)


def test_redirect_without_explicit_headers_uses_the_negotiated_token(hub: Hub) -> None:
    # pysignalr itself sets "Authorization: Bearer <accessToken>" from the redirect negotiate response.
    async def body() -> None:
        s = Session(hub.url("/redirect"))
        try:
            await s.start()
            assert await s.invoke("echo", "token from negotiate") == "token from negotiate"
        finally:
            await s.close()

    run(body)


def test_client_route_without_token_is_refused(hub: Hub) -> None:
    async def body() -> None:
        s = Session(hub.url("/client/?hub=demo"))
        try:
            with pytest.raises(AssertionError, match="stopped while waiting"):
                await s.start()
            assert isinstance(s.client_failure(), AuthorizationError), repr(s.client_failure())
        finally:
            await s.close()
        status, _ = http_post(hub.url("/client/negotiate?hub=demo"))
        assert status == 401
        status, _ = http_post(hub.url("/client/negotiate?hub=demo"), {"Authorization": "Bearer wrong"})
        assert status == 401

    run(body)


@pytest.mark.parametrize("protocol", PROTOCOL_NAMES)
@pytest.mark.parametrize("route", ["/demo", "/redirect"])
def test_no_ack_or_sequence_is_ever_sent(hub_factory, protocol: str, route: str) -> None:
    # Short server keep-alive and client pings every second: both directions carry Pings during the traffic.
    hub = hub_factory("--keep-alive-ms", "300")

    async def body() -> None:
        headers = {"Authorization": f"Bearer {hub.redirect_token()}"} if route == "/redirect" else None
        s = Session(hub.url(route), protocol, headers=headers, signalr_ping_interval=1)
        try:
            await s.start()
            started = time.monotonic()
            i = 0
            while time.monotonic() - started < 2.0:
                assert await s.invoke("echo", i) == i
                await s.send("broadcast", f"m{i}")
                assert (await s.next_message())[1] == f"m{i}"
                i += 1
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.6)  # an idle stretch: only server Pings
            info = await s.invoke("connectionInfo")
            assert info["statefulReconnect"] is False
            assert info["acksSent"] == 0, info
            assert info["sequencesSent"] == 0, info
            assert info["pingsReceived"] >= 1, f"pysignalr's own Pings reached the server: {info}"
            assert s.client_failure() is None, f"the client errored: {s.client_failure()!r}"
            assert s.completion_errors == []
            assert s.open_count == 1 and s.close_count == 0, "no reconnect happened"
            hub.assert_alive()
        finally:
            await s.close()

    run(body)

