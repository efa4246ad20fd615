"""wss:// and https:// end to end: a gateway with a certificate (made by the openssl CLI),
clients that trust it through `ca_pem`, and a client that does not."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest

import interlink
from interlink import Gateway, RelayListener, RelaySender
from support import run, within


@pytest.fixture(scope="module")
def cert_and_key(tmp_path_factory) -> tuple[bytes, bytes]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl CLI is needed to make a test certificate")
    d: Path = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-addext", "basicConstraints=critical,CA:FALSE", "-days", "1",
            "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"),
        ],
        check=True, capture_output=True, timeout=30,
    )
    return (d / "cert.pem").read_bytes(), (d / "key.pem").read_bytes()


def test_the_relay_over_tls(cert_and_key):
    cert, key = cert_and_key

    async def main():
        async with Gateway.start(tls=(cert, key)) as gw:
            cs = gw.connection_string
            async with RelayListener.bind(cs, "hc1", handler=lambda r: "over tls", ca_pem=cert) as listener:
                sender = RelaySender(cs, "hc1", ca_pem=cert)
                resp = await within(sender.request())
                opening = asyncio.get_running_loop().create_task(sender.connect())
                accepted = await within(listener.accept())
                ws = await within(opening)
                await accepted.send("secure")
                got = await within(ws.receive())
                await ws.close()
                with pytest.raises(interlink.NetworkError) as untrusted:
                    await within(RelaySender(cs, "hc1").request())
            return cs, resp.text, got, untrusted.value

    cs, text, got, untrusted = run(main())
    assert "UseTls=true" in cs
    assert (text, got) == ("over tls", "secure")
    assert "UnknownIssuer" in str(untrusted)


def test_a_bad_certificate_is_a_config_error():
    async def main():
        with pytest.raises(interlink.ConfigError) as err:
            await Gateway.start(tls=(b"not pem", b"not pem"))
        return err.value

    assert run(main()).code == "tls"
    with pytest.raises(interlink.ConfigError):
        RelaySender("Endpoint=sb://127.0.0.1:1/", "hc1", ca_pem=b"garbage")
