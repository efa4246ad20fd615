"""Failures map to the right exception classes, codes and statuses."""

from __future__ import annotations

import asyncio
import builtins

import pytest

import interlink
from interlink import Gateway, RelayListener, RelaySender
from support import run, within

KEY = "c2VjcmV0LWtleS1mb3ItdGVzdHM="


def cs(gw: Gateway, rule: str, key: str = KEY) -> str:
    return f"Endpoint=sb://{gw.address}/;SharedAccessKeyName={rule};SharedAccessKey={key}"


def rules():
    return [("root", KEY), ("sendonly", KEY, "send"), ("listenonly", KEY, "listen")]


def test_the_hierarchy():
    assert issubclass(interlink.TimeoutError, interlink.RelayError)
    assert issubclass(interlink.TimeoutError, builtins.TimeoutError)
    assert issubclass(interlink.NetworkError, builtins.ConnectionError)
    assert issubclass(interlink.ConfigError, ValueError)
    assert issubclass(interlink.ConnectionClosed, interlink.ClosedError)
    for cls in (interlink.AuthError, interlink.NotFoundError, interlink.RefusedError, interlink.ProtocolError):
        assert issubclass(cls, interlink.RelayError)
    e = interlink.RelayError("x", code="c", status=500)
    assert (e.code, e.status, str(e)) == ("c", 500, "x")


def test_binding_to_a_hybrid_connection_that_does_not_exist_raises_not_found():
    async def main():
        async with Gateway.start(rules=rules(), hybrid_connections=["hc1"]) as gw:
            with pytest.raises(interlink.NotFoundError) as err:
                await within(RelayListener.bind(cs(gw, "root"), "nope"))
            return err.value

    e = run(main())
    assert (e.code, e.status) == ("not_found", 404)


def test_bad_keys_and_missing_rights_raise_auth_errors():
    async def main():
        async with Gateway.start(rules=rules(), hybrid_connections=["hc1", ("open", True)]) as gw:
            out = {}
            with pytest.raises(interlink.AuthError) as err:
                await within(RelayListener.bind(cs(gw, "root", "d3Jvbmc="), "hc1"))
            out["bad key"] = err.value
            with pytest.raises(interlink.AuthError) as err:
                await within(RelayListener.bind(cs(gw, "sendonly"), "hc1"))
            out["send-only listens"] = err.value
            async with RelayListener.bind(cs(gw, "listenonly"), "hc1"):
                with pytest.raises(interlink.AuthError) as err:
                    await within(RelaySender(cs(gw, "listenonly"), "hc1").connect())
                out["listen-only sends"] = err.value
                anonymous = f"Endpoint=sb://{gw.address}/"
                with pytest.raises(interlink.AuthError) as err:
                    await within(RelaySender(anonymous, "hc1").connect())
                out["no token"] = err.value
                with pytest.raises(interlink.AuthError) as err:
                    await within(RelayListener.bind(anonymous, "hc1"))
                out["listener without credentials"] = err.value
                http = await within(RelaySender(anonymous, "hc1").request())
            async with RelayListener.bind(cs(gw, "root"), "open"):
                ws = await within(RelaySender(anonymous, "open").connect())
                await ws.close()
            return out, http.status

    out, http_status = run(main())
    assert (out["bad key"].status, out["bad key"].code) == (401, "unauthorized")
    assert (out["send-only listens"].status, out["send-only listens"].code) == (403, "forbidden")
    assert out["listen-only sends"].status == 403
    assert out["no token"].status == 401
    assert (out["listener without credentials"].code, out["listener without credentials"].status) == (
        "credentials_missing",
        None,
    )
    assert http_status == 401


def test_connecting_where_nobody_listens_raises_not_found():
    async def main():
        async with Gateway.start() as gw:
            with pytest.raises(interlink.NotFoundError) as err:
                await within(RelaySender(gw.connection_string, "nobody").connect())
            return err.value

    assert run(main()).status == 404


def test_a_slow_listener_makes_the_sender_time_out():
    async def slow(req):
        await asyncio.sleep(3)
        return "late"

    async def main():
        async with Gateway.start() as gw:
            async with RelayListener.bind(gw.connection_string, "hc1", handler=slow):
                sender = RelaySender(gw.connection_string, "hc1", timeout=0.3)
                with pytest.raises(builtins.TimeoutError) as err:
                    await within(sender.request())
                return err.value

    e = run(main())
    assert isinstance(e, interlink.TimeoutError)
    assert (e.code, e.status) == ("timeout", None)


def test_a_handler_slower_than_handler_timeout_gives_500():
    async def slow(req):
        await asyncio.sleep(3)
        return "late"

    async def main():
        async with Gateway.start() as gw:
            async with RelayListener.bind(gw.connection_string, "hc1", handler=slow, handler_timeout=0.3):
                return await within(RelaySender(gw.connection_string, "hc1").request())

    assert run(main()).status == 500


def test_configuration_mistakes_raise_config_errors():
    with pytest.raises(interlink.ConfigError) as err:
        RelaySender("this is not a connection string", "hc1")
    assert err.value.code == "connection_string"
    with pytest.raises(ValueError) as err:
        RelaySender("Endpoint=sb://127.0.0.1:1/")
    assert err.value.code == "missing_entity_path"
    with pytest.raises(interlink.ConfigError) as err:
        RelaySender("Endpoint=sb://127.0.0.1:1/", "hc1", timeout=-1)
    assert err.value.code == "invalid_argument"

    async def main():
        with pytest.raises(interlink.ConfigError) as limit:
            await Gateway.start(limits={"no_such_limit": 1})
        with pytest.raises(interlink.ConfigError) as rights:
            await Gateway.start(rules=[("r", "k", "fly")])
        with pytest.raises(interlink.ConfigError) as request:
            await RelaySender("Endpoint=sb://127.0.0.1:1/", "hc1").request("BAD METHOD")
        return limit.value.code, rights.value.code, request.value.code

    assert run(main()) == ("invalid_limit", "invalid_rights", "invalid_request")


def test_network_failures_raise_network_errors():
    async def main():
        async with Gateway.start() as gw:
            with pytest.raises(interlink.NetworkError) as taken:
                await Gateway.start(bind=gw.address)
            port = gw.port
        with pytest.raises(interlink.NetworkError) as refused:
            await within(RelaySender(f"Endpoint=sb://127.0.0.1:{port}/", "hc1").request())
        return taken.value, refused.value

    taken, refused = run(main())
    assert taken.code == "io"
    assert refused.code == "network"
    assert isinstance(refused, ConnectionError)


def test_a_closed_listener_accepts_nothing_and_is_not_online():
    async def main():
        async with Gateway.start() as gw:
            listener = await RelayListener.bind(gw.connection_string, "hc1")
            await listener.close()
            await listener.close()  # idempotent
            accepted = await within(listener.accept())
            with pytest.raises(interlink.ClosedError) as err:
                await within(listener.wait_online())
            return listener, accepted, err.value

    listener, accepted, err = run(main())
    assert accepted is None
    assert listener.stopped and not listener.online
    assert err.code == "closed"


def test_a_listener_whose_gateway_goes_away_reconnects_to_nothing_and_stays_offline():
    async def main():
        gw = await Gateway.start()
        listener = await RelayListener.bind(gw.connection_string, "hc1", connect_timeout=1)
        await gw.close()
        for _ in range(200):
            if not listener.online:
                break
            await asyncio.sleep(0.01)
        online = listener.online
        await listener.close()
        return online

    assert run(main()) is False
