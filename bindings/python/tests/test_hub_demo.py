"""``interlink.HubClient`` against the demo hub of ``interlink hub serve``, started in-process
with ``interlink.start_demo_hub_server()``."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

import interlink
from interlink import HubClient, start_demo_hub_server
from support import run, within

PROTOCOLS = ["json", "messagepack"]


async def numbers(values):
    for v in values:
        yield v
        await asyncio.sleep(0)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_echo_add_counter_sum_and_whoami(protocol):
    async def main():
        async with start_demo_hub_server() as demo:
            assert demo.url == f"http://{demo.local_addr}/demo"
            async with HubClient(demo.url, protocol) as client:
                return {
                    "echo": await within(client.invoke("echo", {"text": "h\u00e9", "n": [1, 2**40, None]})),
                    "add": await within(client.invoke("add", 2, 3)),
                    "add floats": await within(client.invoke("add", 0.5, 0.25)),
                    "counter": [i async for i in client.stream("counter", 5, 1)],
                    "counter 0": [i async for i in client.stream("counter", 0, 1)],
                    "sum": await within(client.invoke("sum", numbers(range(1, 11)))),
                    "sum empty": await within(client.invoke("sum", numbers([]))),
                    "two sums": await within(
                        asyncio.gather(
                            client.invoke("sum", numbers([1, 2])), client.invoke("sum", numbers([10, 20]))
                        )
                    ),
                    "whoami": await within(client.invoke("whoami")) == client.connection_id,
                    "info": await within(client.invoke("connectionInfo")),
                }

    out = run(main())
    assert out["echo"] == {"text": "h\u00e9", "n": [1, 2**40, None]}
    assert (out["add"], out["add floats"]) == (5, 0.75)
    assert (out["counter"], out["counter 0"]) == ([0, 1, 2, 3, 4], [])
    assert (out["sum"], out["sum empty"], out["two sums"]) == (55, 0, [3, 30])
    assert out["whoami"] is True
    info = out["info"]
    assert (info["protocol"], info["transport"], info["version"]) == (protocol, "WebSockets", 1)
    assert info["statefulReconnect"] is False


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_broadcast_groups_and_client_results(protocol):
    async def main():
        async with start_demo_hub_server() as demo:
            async with HubClient(demo.url, protocol) as a, HubClient(demo.url, "json") as b:
                inbox_a, inbox_b = asyncio.Queue(), asyncio.Queue()
                a.on("message", lambda sender, text: inbox_a.put_nowait((sender, text)))
                b.on("message", lambda sender, text: inbox_b.put_nowait((sender, text)))

                async def question(value):
                    return {"answer": value}

                a.on("question", question)
                await within(a.invoke("broadcast", "hi"))
                got = [await within(inbox_a.get()), await within(inbox_b.get())]
                await within(b.invoke("joinGroup", "room"))
                await within(a.invoke("sendToGroup", "room", "to room"))
                in_room = await within(inbox_b.get())
                await within(b.invoke("leaveGroup", "room"))
                await within(a.invoke("sendToGroup", "room", "nobody"))
                await within(a.send("broadcast", "barrier"))  # b sees this next, not "nobody"
                after = await within(inbox_b.get())
                answer = await within(a.invoke("ask", 42))
                with pytest.raises(interlink.HubError) as no_handler:
                    await within(b.invoke("ask", 1))
                return a.connection_id, got, in_room, after, answer, no_handler.value

    a_id, got, in_room, after, answer, no_handler = run(main())
    assert got == [(a_id, "hi"), (a_id, "hi")]
    assert in_room == (a_id, "to room")
    assert after == (a_id, "barrier")
    assert answer == {"answer": 42}
    assert "Client didn't provide a result." in str(no_handler)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_redirect_and_the_token_protected_route(protocol):
    async def main():
        async with start_demo_hub_server(token="secret") as demo:
            assert demo.token == "secret"
            async with HubClient(demo.redirect_url, protocol) as redirected:
                via_redirect = await within(redirected.invoke("echo", "redirected"))
            async with HubClient(demo.client_url, protocol, access_token="secret") as direct:
                with_token = await within(direct.invoke("add", 1, 1))
            with pytest.raises(interlink.AuthError) as refused:
                await within(HubClient(demo.client_url, protocol).start())
            return via_redirect, with_token, refused.value

    via_redirect, with_token, refused = run(main())
    assert (via_redirect, with_token) == ("redirected", 2)
    assert refused.status == 401


def test_skip_negotiation_goes_straight_to_the_websocket():
    async def main():
        async with start_demo_hub_server() as demo:
            async with HubClient(demo.url, "messagepack", skip_negotiation=True) as client:
                return client.connection_id, await within(client.invoke("whoami"))

    cid, whoami = run(main())
    assert cid is None and whoami


def test_close_me_closes_the_client_with_the_servers_error():
    async def main():
        async with start_demo_hub_server() as demo:
            closed = asyncio.get_running_loop().create_future()
            client = HubClient(demo.url, automatic_reconnect=True)
            client.on_close(lambda e: closed.set_result(e))
            reconnecting = []
            client.on_reconnecting(reconnecting.append)
            await within(client.start())
            await within(client.send("closeMe", "bye", False))
            error = await within(closed, "on_close")
            await client.stop()
            return error, reconnecting

    error, reconnecting = run(main())
    assert isinstance(error, interlink.HubConnectionError)
    assert error.code == "server_closed" and "bye" in str(error)
    assert reconnecting == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_stateful_reconnect_keeps_the_connection_across_a_dropped_transport(protocol):
    async def main():
        async with start_demo_hub_server() as demo:
            client = HubClient(demo.url, protocol, stateful_reconnect=True, automatic_reconnect=True)
            events = []
            client.on_reconnecting(lambda e: events.append(("reconnecting", e)))
            client.on_reconnected(lambda cid: events.append(("reconnected", cid)))
            async with client:
                first_id = client.connection_id
                items = []
                async for i in client.stream("counter", 30, 10):
                    items.append(i)
                    if i == 5:
                        await within(client.send("dropTransport"))
                info = await within(client.invoke("connectionInfo"))
                return first_id, client.connection_id, items, info, events

    first_id, last_id, items, info, events = run(main())
    assert items == list(range(30))  # exactly once, in order
    assert last_id == first_id and events == []
    assert (info["statefulReconnect"], info["version"]) == (True, 2)


def test_the_readme_hub_example_runs():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    example = readme.split("## SignalR hubs", 1)[1].split("```py\n", 1)[1].split("```", 1)[0]
    out = subprocess.run([sys.executable, "-c", example], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["5", "[3, 2, 1]", "42", "hello"]
