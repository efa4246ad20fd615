"""Boundary benchmark (issue §6): the sans-IO rendezvous loop through the Python binding.

One GatewayMachine, one listener registered at setup (a `listen` upgrade with a token). Per
iteration: handle_upgrade(connect, new conn id) → drain poll_output → take the accept text →
extract the `sb-hc-id=` value from its address → handle_upgrade(accept with that id) → drain
(2 upgrades). The hybrid connection is anonymous, so the loop checks no token; `now` stays 0
(no deadline fires). Reports iterations per second.

Run: python bindings/python/bench/boundary.py [-n 100000]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import interlink
from interlink import GatewayMachine, create_token

HOST = "127.0.0.1:9090"
KEY = "Ym91bmRhcnktYmVuY2gta2V5"
HC = "bench"
PATH = f"/$hc/{HC}"
T0 = 1_700_000_000
HEADERS = [("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")]


def setup() -> GatewayMachine:
    m = GatewayMachine([("root", KEY, "listen,send,manage")], [(HC, True)], unix_origin_ms=T0 * 1000, seed=1)
    token = create_token(f"http://{HOST}/{HC}", "root", KEY, expiry=T0 + 86_400)
    m.handle_upgrade(0, 1, PATH, "sb-hc-action=listen", [("ServiceBusAuthorization", token)] + HEADERS, HOST)
    out = m.poll_output()
    assert out is not None and out.kind == "upgrade" and m.poll_output() is None
    return m


def rendezvous(m: GatewayMachine, n: int, first_conn: int) -> int:
    """Runs `n` iterations; returns the next free connection id."""
    conn = first_conn
    for _ in range(n):
        m.handle_upgrade(0, conn, PATH, "sb-hc-action=connect", HEADERS, HOST)
        text = None
        while (out := m.poll_output()) is not None:
            if out.kind == "send_text":
                text = out.text
        assert text is not None, "no accept message"
        start = text.index("sb-hc-id=") + 9
        end = start
        while text[end] not in '&"':
            end += 1
        m.handle_upgrade(0, conn + 1, PATH, "sb-hc-action=accept&sb-hc-id=" + text[start:end], HEADERS, HOST)
        upgrades = 0
        while (out := m.poll_output()) is not None:
            upgrades += 1
        assert upgrades == 2, f"expected 2 upgrades, got {upgrades}"
        conn += 2
    return conn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000, help="iterations (default 100000)")
    args = parser.parse_args()
    m = setup()
    conn = rendezvous(m, 1_000, 2)  # warm-up
    start = time.perf_counter()
    rendezvous(m, args.n, conn)
    elapsed = time.perf_counter() - start
    ops = args.n / elapsed
    print(
        f"python boundary: {args.n} rendezvous in {elapsed:.3f} s = {ops:,.0f} ops/s "
        f"({1e6 / ops:.2f} µs/op; Python {platform.python_version()}, interlink {interlink.__version__})"
    )
    print(json.dumps({"language": "python", "n": args.n, "seconds": round(elapsed, 4), "ops_per_sec": round(ops)}))


if __name__ == "__main__":
    main()
