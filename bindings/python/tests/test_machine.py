"""The sans-IO GatewayMachine: inputs in, outputs out, time as an argument."""

from __future__ import annotations

import json

import pytest

import interlink
from interlink import GatewayMachine, create_token

HOST = "127.0.0.1:9090"
KEY = "c2VjcmV0LWtleQ=="
T0 = 1_700_000_000  # Unix seconds at now == 0


def machine(**limits) -> GatewayMachine:
    return GatewayMachine(
        [("root", KEY, "listen,send,manage")],
        [("hc1", False), ("open", True)],
        limits=limits,
        unix_origin_ms=T0 * 1000,
        seed=7,
    )


def drain(m: GatewayMachine):
    out = []
    while (o := m.poll_output()) is not None:
        out.append(o)
    return out


def token(entity: str) -> str:
    return create_token(f"http://{HOST}/{entity}", "root", KEY, expiry=T0 + 3600)


def listen(m: GatewayMachine, now: int, conn: int, hc: str = "hc1") -> None:
    m.handle_upgrade(
        now, conn, f"/$hc/{hc}", "sb-hc-action=listen&sb-hc-id=L1", [("ServiceBusAuthorization", token(hc))], HOST
    )
    [up] = drain(m)
    assert (up.kind, up.conn, up.pair_with, up.protocol) == ("upgrade", conn, None, None)


def test_a_sender_meets_the_listener_at_the_rendezvous():
    m = machine()
    listen(m, 0, 1, "open")
    assert m.listener_count("open") == 1
    m.handle_upgrade(10, 2, "/$hc/open/chat", "sb-hc-action=connect&x=1", [("Sec-WebSocket-Protocol", "p1")], HOST)
    [accept] = drain(m)
    assert (accept.kind, accept.conn) == ("send_text", 1)
    address = json.loads(accept.text)["accept"]["address"]
    secret = address.split("sb-hc-id=")[1].split("&")[0]
    assert address.startswith(f"ws://{HOST}/$hc/open/chat?")
    assert m.stats()["pending_accepts"] == 1
    m.handle_upgrade(20, 3, "/$hc/open/chat", f"sb-hc-action=accept&sb-hc-id={secret}", [("Sec-WebSocket-Protocol", "p1")], HOST)
    ups = drain(m)
    assert [(o.kind, o.conn, o.pair_with, o.protocol) for o in ups] == [
        ("upgrade", 3, 2, "p1"),
        ("upgrade", 2, 3, "p1"),
    ]


def test_connects_need_a_listener_and_tokens_where_configured():
    m = machine()
    m.handle_upgrade(0, 1, "/$hc/hc1", "sb-hc-action=connect", [], HOST)
    m.handle_upgrade(0, 2, "/$hc/hc1", "sb-hc-action=connect", [("ServiceBusAuthorization", token("hc1"))], HOST)
    m.handle_upgrade(0, 3, "/elsewhere", None, [], HOST)
    out = drain(m)
    assert [(o.kind, o.conn, o.status) for o in out] == [("refuse", 1, 401), ("refuse", 2, 404), ("refuse", 3, 404)]
    assert "TokenMissingOrInvalid" in out[0].reason


def test_an_unanswered_accept_expires_on_the_callers_clock():
    m = machine(accept_timeout_secs=5)
    listen(m, 0, 1)
    m.handle_upgrade(1_000, 2, "/$hc/hc1", "sb-hc-action=connect", [("ServiceBusAuthorization", token("hc1"))], HOST)
    drain(m)
    deadline = m.poll_timeout()
    assert deadline is not None and 1_000 < deadline <= 6_000
    m.handle_timeout(deadline - 1)
    assert [o.kind for o in drain(m)] == []
    m.handle_timeout(6_000)
    [refused] = drain(m)
    assert (refused.kind, refused.conn) == ("refuse", 2)
    assert refused.status >= 400


def test_http_requests_are_answered_inline_on_the_control_channel():
    m = machine()
    listen(m, 0, 1, "open")
    m.handle_http_request(5, 9, "POST", "/open/x", "q=1", [("Content-Type", "text/plain")], HOST, body=b"hi")
    request, body = drain(m)
    assert (request.kind, request.conn) == ("send_text", 1)
    cmd = json.loads(request.text)["request"]
    assert cmd["method"] == "POST" and cmd["body"] is True
    assert (body.kind, body.conn, body.data) == ("send_binary", 1, b"hi")
    m.handle_text(6, 1, json.dumps({"response": {"requestId": cmd["id"], "statusCode": 200, "body": True}}))
    m.handle_binary(6, 1, b"hello back")
    [resp] = drain(m)
    assert (resp.kind, resp.conn, resp.status, resp.data, resp.streaming) == ("http_response", 9, 200, b"hello back", False)
    assert any(n.lower() == "via" for n, _ in resp.headers)


def test_no_listener_means_502_and_bad_limits_raise():
    m = machine()
    m.handle_http_request(0, 1, "GET", "/open", None, [], HOST)
    [resp] = drain(m)
    assert (resp.kind, resp.status) == ("http_response", 502)
    assert m.poll_timeout() is None
    with pytest.raises(interlink.ConfigError):
        GatewayMachine(limits={"accept_timeout_secs": -1})
