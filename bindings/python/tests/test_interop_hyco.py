"""Python sender ↔ Microsoft's hyco-ws listener (Node), through a gateway started from Python."""

from __future__ import annotations

import asyncio
import os
import urllib.parse
from pathlib import Path

import pytest

import interlink
from interlink import Gateway, RelaySender, create_token, validate_token
from support import pattern, read_line, run, within

KEY = "aHljby1pbnRlcm9wLWtleQ=="
SCRIPT = Path(__file__).with_name("hyco_ws_listener.cjs")


async def hyco_listener(gw: Gateway, hc: str, node_modules: Path):
    proc = await asyncio.create_subprocess_exec(
        "node", str(SCRIPT), f"ws://{gw.address}", hc, "root", KEY,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "INTERLINK_NODE_MODULES": str(node_modules)},
    )
    assert proc.stdout is not None
    line = await read_line(proc.stdout, lambda l: l.startswith("ready "), "the hyco-ws listener to be online")
    return proc, line.removeprefix("ready ")


async def stop(proc) -> None:
    proc.stdin.close()
    try:
        await asyncio.wait_for(proc.wait(), 5)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()


def test_a_python_sender_talks_to_a_hyco_ws_listener(node_modules):
    async def main():
        async with Gateway.start(rules=[("root", KEY)], hybrid_connections=["hc1"]) as gw:
            proc, hyco_token = await hyco_listener(gw, "hc1", node_modules)
            try:
                cs = f"Endpoint=sb://{gw.address}/;SharedAccessKeyName=root;SharedAccessKey={KEY}"
                ws = await within(RelaySender(cs, "hc1").connect("room"), "the relayed connect")
                got = []
                for m in ["hello", "caf\u00e9", pattern(70_000)]:
                    await ws.send(m)
                    got.append(await within(ws.receive()))
                await ws.close()
                stats = gw.stats()
            finally:
                await stop(proc)
            return got, hyco_token, stats, gw.address

    got, hyco_token, stats, address = run(main())
    assert got == ["hyco: hello", "hyco: caf\u00e9", pattern(70_000)]
    assert stats["listeners"] == 1
    # hyco's own token validates with our code, and ours is byte for byte the same
    fields = dict(p.split("=", 1) for p in hyco_token.removeprefix("SharedAccessSignature ").split("&"))
    resource = urllib.parse.unquote(fields["sr"])
    info = validate_token(hyco_token, f"http://{address}/hc1", [("root", KEY, "listen")], required="listen")
    assert info.key_name == "root"
    assert create_token(resource, "root", KEY, expiry=int(fields["se"])) == hyco_token


def test_a_python_sender_is_refused_by_name_when_hyco_listens_elsewhere(node_modules):
    async def main():
        async with Gateway.start(rules=[("root", KEY)], hybrid_connections=["hc1", "hc2"]) as gw:
            proc, _ = await hyco_listener(gw, "hc1", node_modules)
            try:
                cs = f"Endpoint=sb://{gw.address}/;SharedAccessKeyName=root;SharedAccessKey={KEY}"
                with pytest.raises(interlink.NotFoundError) as err:
                    await within(RelaySender(cs, "hc2").connect())
            finally:
                await stop(proc)
            return err.value

    assert run(main()).status == 404
