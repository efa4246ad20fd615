"""``Gateway``: the relay gateway server (listeners connect out to it, senders reach them
through it), running on interlink's I/O thread."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from ._interlink import NativeGateway
from ._opening import Opening

__all__ = ["Gateway"]

#: A SAS rule: ``(name, key)`` (all rights) or ``(name, key, rights)``, rights like
#: ``"listen,send"``.
Rule = Union[Tuple[str, str], Tuple[str, str, str]]
#: A hybrid connection: a name (senders need a token) or ``(name, anonymous)``.
HybridConnection = Union[str, Tuple[str, bool]]


def _rules(rules: Optional[Iterable[Rule]]) -> Optional[List[Tuple[str, str, str]]]:
    if rules is None:
        return None
    out = []
    for r in rules:
        if len(r) == 2:
            out.append((r[0], r[1], "listen,send,manage"))
        else:
            out.append((r[0], r[1], r[2]))  # type: ignore[misc]
    return out


def _hybrid_connections(hcs: Optional[Iterable[HybridConnection]]) -> Optional[List[Tuple[str, bool]]]:
    if hcs is None:
        return None
    return [(h, False) if isinstance(h, str) else (h[0], bool(h[1])) for h in hcs]


class Gateway:
    """A running relay gateway. Create it with :meth:`start`."""

    def __init__(self, native: NativeGateway) -> None:
        self._native = native

    @classmethod
    def start(
        cls,
        *,
        bind: str = "127.0.0.1:0",
        rules: Optional[Iterable[Rule]] = None,
        hybrid_connections: Optional[Iterable[HybridConnection]] = None,
        limits: Optional[Mapping[str, float]] = None,
        tls: Optional[Tuple[bytes, bytes]] = None,
    ) -> Opening["Gateway"]:
        """Binds ``bind`` (default: an OS-chosen port on 127.0.0.1) and serves.

        ``rules`` sign valid tokens (default: one generated rule with every right);
        ``hybrid_connections`` lists the names that exist (default: any name); ``limits`` uses
        the names of the gateway's TOML ``[limits]`` (e.g. ``accept_timeout_secs``) plus
        ``close_linger_secs``; ``tls`` is ``(cert_chain_pem, key_pem)`` for wss/https.
        Raises ``NetworkError`` (code ``io``) when the port cannot be bound.
        """

        async def open_() -> Gateway:
            native = await NativeGateway.start(
                bind,
                _rules(rules),
                _hybrid_connections(hybrid_connections),
                dict(limits or {}),
                tls,
            )
            return cls(native)

        return Opening(open_)

    @property
    def address(self) -> str:
        """The bound address, ``"127.0.0.1:PORT"``."""
        return self._native.address

    @property
    def port(self) -> int:
        """The bound port."""
        return self._native.port

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (``https`` is not reflected here)."""
        return f"http://{self._native.address}"

    @property
    def connection_string(self) -> str:
        """``Endpoint=sb://HOST:PORT/;SharedAccessKeyName=…;SharedAccessKey=…`` for the first
        rule with Manage rights (or the first rule)."""
        return self._native.connection_string

    def stats(self) -> Dict[str, int]:
        """Counters: ``listeners``, ``pending_accepts``, ``pending_requests``."""
        return dict(self._native.stats())

    async def close(self) -> None:
        """Stops the gateway; control channels and rendezvous are closed with 1001. Idempotent."""
        await self._native.close()

    async def __aenter__(self) -> "Gateway":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()
