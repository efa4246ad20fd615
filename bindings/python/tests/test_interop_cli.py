"""Python ↔ the Rust `interlink` binary: its sender against a Python listener, and a Python
listener and sender against its gateway."""

from __future__ import annotations

import asyncio
import re

from interlink import RelayListener, RelaySender, Request, Response
from interlink import Gateway
from support import read_line, run, within


async def cli(bin_: str, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        bin_, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await within(proc.communicate(), f"interlink {' '.join(args[:1])}")
    return proc.returncode, out.decode(), err.decode()


def test_the_rust_sender_reaches_a_python_listener(interlink_bin):
    seen = []

    async def handler(req: Request) -> Response:
        seen.append((req.method, req.url, req.header("x-from"), req.body))
        return Response(200, [("x-listener", "python")], b"python got: " + req.body, reason="Fine Thanks")

    async def main():
        async with Gateway.start() as gw:
            async with RelayListener.bind(gw.connection_string, "hc1", handler=handler):
                cs = gw.connection_string
                post = await cli(
                    interlink_bin, "send", "--connection-string", cs, "-X", "POST", "-H", "x-from: rust",
                    "-d", "hello from rust", "-i", "hc1/items?id=3",
                )
                get = await cli(interlink_bin, "send", "--connection-string", cs, "hc1")
                return post, get

    (code, out, err), (gcode, gout, _) = run(main())
    assert code == 0, err
    head, _, body = out.partition("\n\n")
    assert head.splitlines()[0] == "HTTP/1.1 200 Fine Thanks"
    assert re.search(r"^x-listener: python$", head, re.M)
    assert body == "python got: hello from rust"
    assert (gcode, gout) == (0, "python got: ")
    assert seen[0] == ("POST", "/hc1/items?id=3", "rust", b"hello from rust")
    assert seen[1][:2] == ("GET", "/hc1")


def test_python_listener_and_sender_through_the_rust_gateway(interlink_bin):
    async def main():
        proc = await asyncio.create_subprocess_exec(
            interlink_bin, "gateway", "--bind", "127.0.0.1:0",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            assert proc.stdout is not None
            line = await read_line(proc.stdout, lambda l: "Endpoint=sb://" in l, "the gateway's connection string")
            cs = re.search(r"(Endpoint=sb://\S+)", line).group(1)
            async with RelayListener.bind(cs, "hc1", handler=lambda r: Response(200, body=r.body[::-1])) as listener:
                sender = RelaySender(cs, "hc1")
                resp = await within(sender.request("POST", "/", body=b"abc"))
                opening = asyncio.get_running_loop().create_task(sender.connect())
                accepted = await within(listener.accept())
                ws = await within(opening)
                await ws.send(b"\x01\x02")
                got = await within(accepted.receive())
                await ws.close()
                return resp, got
        finally:
            proc.terminate()
            await within(proc.wait(), "the gateway to exit")

    resp, got = run(main())
    assert (resp.status, resp.body) == (200, b"cba")
    assert got == b"\x01\x02"
