"""The Python runner of the parity scenarios in tests/scenarios/ (format in its README).

Each scenario runs against a fresh gateway with a Python listener and Python senders; the
outcome goes to $INTERLINK_SCENARIO_OUT/python/<name>.json (default:
target/scenario-outcomes/python/) for the cross-language check (tests/scenarios/compare.py).
Exits 1 if any expectation fails.

Run: python bindings/python/scenarios/run.py
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import interlink
from interlink import Gateway, RelayListener, RelaySender, Request, Response

ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = ROOT / "tests" / "scenarios"
#: The bound on any single wait.
WAIT = 10.0


def pattern(n: int) -> bytes:
    """``n`` bytes, byte i = i % 251."""
    return bytes(i % 251 for i in range(n))


def body_of(spec: Dict[str, Any]) -> Optional[bytes]:
    """The body a route, step or expectation describes (``body``, ``body_pattern``), or None."""
    if isinstance(spec.get("body"), str):
        return spec["body"].encode()
    if "body_pattern" in spec:
        return pattern(int(spec["body_pattern"]))
    return None


def outcome_dir() -> Path:
    out = os.environ.get("INTERLINK_SCENARIO_OUT")
    return (Path(out) if out else ROOT / "target" / "scenario-outcomes") / "python"


def route_handler(routes: List[Dict[str, Any]], hc: str):
    """The listener's handler: the first route matching method and path (after ``/hc``)."""
    prefix = f"/{hc}"

    def handle(req: Request) -> Response:
        path = req.path[len(prefix):] if req.path.startswith(prefix) else ""
        path = path or "/"
        for r in routes:
            if r.get("method") == req.method and r.get("path") == path:
                body = req.body if r.get("echo") else (body_of(r) or b"")
                return Response(int(r.get("status", 200)), r.get("headers") or {}, body, r.get("reason"))
        return Response(404, body=b"no route")

    return handle


async def echo(socket: interlink.WebSocket) -> None:
    async for message in socket:
        await socket.send(message)


async def serve_sockets(listener: RelayListener) -> None:
    tasks = set()
    async for socket in listener:
        task = asyncio.create_task(echo(socket))
        tasks.add(task)
        task.add_done_callback(tasks.discard)


async def http_step(cs: str, hc: str, spec: Dict[str, Any], expect: Dict[str, Any]) -> Dict[str, Any]:
    sender = RelaySender(cs, hc, timeout=WAIT)
    resp = await sender.request(
        spec.get("method", "GET"), spec.get("path", "/"), spec.get("headers") or {}, body_of(spec) or b""
    )
    ok = expect.get("status") == resp.status
    for name, value in (expect.get("headers") or {}).items():
        ok = ok and resp.header(name) == value
    want = body_of(expect)
    if want is not None:
        ok = ok and resp.body == want
    return {"kind": "http", "status": resp.status, "body_len": len(resp.body), "ok": ok}


async def websocket_step(cs: str, hc: str, spec: Dict[str, Any], expect: Dict[str, Any]) -> Dict[str, Any]:
    sender = RelaySender(cs, hc, timeout=WAIT)
    try:
        socket = await sender.connect(spec.get("path", "/"))
    except interlink.RelayError as e:
        ok = expect.get("refused") == e.status
        return {"kind": "websocket", "refused": e.status, "received": 0, "ok": ok}
    texts, binary, received = [], None, 0
    for text in spec.get("send", []):
        await socket.send(text)
        reply = await asyncio.wait_for(socket.receive(), WAIT)
        if isinstance(reply, str):
            texts.append(reply)
            received += 1
    if "send_binary_pattern" in spec:
        await socket.send(pattern(int(spec["send_binary_pattern"])))
        reply = await asyncio.wait_for(socket.receive(), WAIT)
        if isinstance(reply, bytes):
            binary = reply
            received += 1
    await socket.close()
    want_binary = pattern(int(expect["received_binary_pattern"])) if "received_binary_pattern" in expect else None
    ok = "refused" not in expect and texts == expect.get("received", []) and binary == want_binary
    return {"kind": "websocket", "refused": None, "received": received, "ok": ok}


async def run_scenario(scenario: Dict[str, Any]) -> Dict[str, Any]:
    """Runs one scenario and returns its outcome."""
    hc = scenario["hybrid_connection"]
    steps = []
    async with Gateway.start() as gw:
        cs = gw.connection_string
        listener = None
        serving = None
        spec = scenario.get("listener")
        if spec is not None:
            ws = spec.get("websocket") or {"mode": "echo"}
            accept_filter = None
            if ws.get("mode") == "reject":
                verdict = (int(ws.get("status", 403)), ws.get("description", ""))
                accept_filter = lambda info: verdict  # noqa: E731
            listener = await RelayListener.bind(
                cs, hc, handler=route_handler(spec.get("routes", []), hc), accept_filter=accept_filter
            )
            serving = asyncio.create_task(serve_sockets(listener))
        for step in scenario["steps"]:
            expect = step.get("expect", {})
            if "http" in step:
                target = step["http"].get("hybrid_connection", hc)
                steps.append(await asyncio.wait_for(http_step(cs, target, step["http"], expect), WAIT))
            else:
                target = step["websocket"].get("hybrid_connection", hc)
                steps.append(await asyncio.wait_for(websocket_step(cs, target, step["websocket"], expect), WAIT))
        if listener is not None:
            await listener.close()
            await asyncio.wait_for(serving, WAIT)
    return {"name": scenario["name"], "steps": steps}


async def main() -> int:
    files = sorted(SCENARIOS.glob("*.json"))
    if len(files) < 4:
        print(f"scenario files are missing in {SCENARIOS}", file=sys.stderr)
        return 1
    out = outcome_dir()
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for file in files:
        scenario = json.loads(file.read_text())
        outcome = await asyncio.wait_for(run_scenario(scenario), 60)
        text = json.dumps(outcome, sort_keys=True, separators=(",", ":"))
        (out / f"{scenario['name']}.json").write_text(text + "\n")
        bad = [i for i, s in enumerate(outcome["steps"]) if not s["ok"]]
        failed += len(bad)
        print(f"{'ok  ' if not bad else 'FAIL'} {scenario['name']}" + (f" (steps {bad})" if bad else ""))
    print(f"python scenarios: {len(files)} run, {failed} failed step(s); outcomes in {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
