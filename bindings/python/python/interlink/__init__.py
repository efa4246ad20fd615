"""interlink: reach services behind firewalls through a relay (Azure Relay Hybrid
Connections compatible), from asyncio.

- :class:`Gateway` — the relay gateway server.
- :class:`RelayListener` — a listener: HTTP handler + accepted WebSockets.
- :class:`RelaySender` — HTTP requests and WebSockets to a listener.
- :class:`GatewayMachine` — the sans-IO gateway state machine (bring your own I/O).
- :func:`create_token`, :func:`validate_token` — SAS tokens.
- :class:`HubClient`, :class:`HubServer`, :func:`start_demo_hub_server` — SignalR hubs
  (client and server, JSON and MessagePack).
- :mod:`interlink.errors` — the exception hierarchy (``RelayError`` and subclasses).

Every ``async`` method is a native coroutine awaited by asyncio; the I/O runs on interlink's
own thread (smol), so the event loop is never blocked.
"""

import atexit as _atexit

from . import errors
from ._interlink import _shutdown
from ._interlink import (
    AcceptInfo,
    GatewayMachine,
    GatewayOutput,
    RelaySender,
    Request,
    Response,
    TokenInfo,
    WebSocket,
    __version__,
    create_token,
    validate_token,
)
from ._gateway import Gateway
from ._hub import DemoHubServer, HubClient, HubContext, HubServer, HubStream, start_demo_hub_server
from ._listener import RelayListener
from ._opening import Opening
from .errors import (
    AuthError,
    ClosedError,
    ConfigError,
    ConnectionClosed,
    HubConnectionError,
    HubError,
    NetworkError,
    NotFoundError,
    ProtocolError,
    RefusedError,
    RelayError,
    TimeoutError,
)

# Rust threads stop entering Python before the interpreter finalizes (see src/detach.rs).
_atexit.register(_shutdown)

__all__ = [
    "AcceptInfo",
    "AuthError",
    "ClosedError",
    "ConfigError",
    "ConnectionClosed",
    "DemoHubServer",
    "Gateway",
    "GatewayMachine",
    "GatewayOutput",
    "HubClient",
    "HubConnectionError",
    "HubContext",
    "HubError",
    "HubServer",
    "HubStream",
    "NetworkError",
    "NotFoundError",
    "Opening",
    "ProtocolError",
    "RefusedError",
    "RelayError",
    "RelayListener",
    "RelaySender",
    "Request",
    "Response",
    "TimeoutError",
    "TokenInfo",
    "WebSocket",
    "__version__",
    "create_token",
    "errors",
    "start_demo_hub_server",
    "validate_token",
]
