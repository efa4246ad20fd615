"""HTTP through the relay: a Python listener's handler and a Python sender."""

from __future__ import annotations

import asyncio

import pytest

import interlink
from interlink import Gateway, RelayListener, RelaySender, Request, Response
from support import pattern, run, within


async def serve(handler, body_check=None):
    """A gateway and a listener on `hc1` with `handler`; yields a sender."""
    gw = await Gateway.start()
    listener = await RelayListener.bind(gw.connection_string, "hc1", handler=handler)
    return gw, listener, RelaySender(gw.connection_string, "hc1", timeout=10)


async def close(gw, listener):
    await listener.close()
    await gw.close()


def test_async_handler_sees_the_request_and_its_response_comes_back():
    seen = []

    async def handler(req: Request) -> Response:
        seen.append(req)
        await asyncio.sleep(0)
        return Response(201, [("x-reply", "yes"), ("x-multi", "1"), ("x-multi", "2")], b"got " + req.body)

    async def main():
        gw, listener, sender = await serve(handler)
        resp = await within(sender.request("PUT", "/items/7?q=a%20b", [("x-token", "t1")], b"payload"))
        await close(gw, listener)
        return resp

    resp = run(main())
    assert resp.status == 201
    assert resp.body == b"got payload"
    assert resp.text == "got payload"
    assert resp.header("X-Reply") == "yes"
    assert resp.header("x-multi") == "1, 2"  # repeats are joined on the control channel
    req = seen[0]
    assert (req.method, req.url, req.path, req.query) == ("PUT", "/hc1/items/7?q=a%20b", "/hc1/items/7", "q=a%20b")
    assert req.header("x-token") == "t1"
    assert req.via_rendezvous is False
    assert req.id


def test_plain_handlers_may_return_tuples_statuses_and_bodies():
    def handler(req: Request):
        return {
            "/hc1/tuple2": (202, "two"),
            "/hc1/tuple3": (203, {"x-h": "v"}, b"three"),
            "/hc1/status": 204,
            "/hc1/text": "just text",
        }[req.path]

    async def main():
        gw, listener, sender = await serve(handler)
        out = [await within(sender.request("GET", p)) for p in ("/tuple2", "/tuple3", "/status", "/text")]
        await close(gw, listener)
        return out

    t2, t3, st, tx = run(main())
    assert (t2.status, t2.body) == (202, b"two")
    assert (t3.status, t3.header("x-h"), t3.body) == (203, "v", b"three")
    assert (st.status, st.body) == (204, b"")
    assert (tx.status, tx.body) == (200, b"just text")


def test_large_bodies_go_through_rendezvous_both_ways():
    big = pattern(150_000)

    async def handler(req: Request) -> Response:
        return Response(200, body=req.body + pattern(100_000))

    async def main():
        gw, listener, sender = await serve(handler)
        resp = await within(sender.request("POST", "/echo", body=big))
        await close(gw, listener)
        return resp

    resp = run(main())
    assert resp.status == 200
    assert resp.body == big + pattern(100_000)


def test_reason_phrases_pass_through():
    async def main():
        gw, listener, sender = await serve(lambda req: Response(418, body=b"", reason="Short And Stout"))
        resp = await within(sender.request())
        await close(gw, listener)
        return resp

    resp = run(main())
    assert (resp.status, resp.reason) == (418, "Short And Stout")


def test_failing_and_invalid_handlers_answer_500_and_no_handler_501():
    def handler(req: Request):
        if req.path.endswith("/raise"):
            raise RuntimeError("boom")
        return object()

    async def main():
        gw, listener, sender = await serve(handler)
        raised = await within(sender.request("GET", "/raise"))
        invalid = await within(sender.request("GET", "/invalid"))
        bare = await RelayListener.bind(gw.connection_string, "hc2")
        no_handler = await within(RelaySender(gw.connection_string, "hc2").request())
        await bare.close()
        await close(gw, listener)
        return raised, invalid, no_handler

    raised, invalid, no_handler = run(main())
    assert raised.status == 500 and b"failed" in raised.body
    assert invalid.status == 500
    assert no_handler.status == 501


def test_many_concurrent_requests_are_all_answered():
    async def handler(req: Request) -> Response:
        await asyncio.sleep(0.01)
        return Response(200, body=req.body)

    async def main():
        gw, listener, sender = await serve(handler)
        bodies = [f"request {i}".encode() for i in range(100)]
        resps = await within(asyncio.gather(*(sender.request("POST", "/", body=b) for b in bodies)))
        await close(gw, listener)
        return bodies, resps

    bodies, resps = run(main())
    assert [r.body for r in resps] == bodies
    assert all(r.status == 200 for r in resps)


def test_without_a_listener_the_relay_answers_502():
    async def main():
        async with Gateway.start() as gw:
            return await within(RelaySender(gw.connection_string, "nobody").request())

    assert run(main()).status == 502


def test_listener_and_gateway_work_as_async_context_managers():
    async def main():
        async with Gateway.start(hybrid_connections=["hc1"]) as gw:
            async with RelayListener.bind(gw.connection_string, "hc1", handler=lambda r: "ok") as listener:
                assert listener.online and not listener.stopped
                stats = gw.stats()
                resp = await within(RelaySender(gw.connection_string, "hc1").request())
            assert listener.stopped
        assert gw.stats() == {}
        return stats, resp

    stats, resp = run(main())
    assert stats["listeners"] == 1
    assert resp.body == b"ok"


def test_response_validates_its_arguments():
    r = Response(200, {"a": "b"}, "text")
    assert (r.headers, r.body) == ([("a", "b")], b"text")
    assert Response(200, None, bytearray(b"x")).body == b"x"
    with pytest.raises(interlink.ConfigError):
        Response(42)
    with pytest.raises(ValueError):
        Response(200, [("only-a-name",)])
