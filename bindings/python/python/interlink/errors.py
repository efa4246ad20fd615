"""The exceptions of interlink: one small hierarchy, each with a stable ``code``.

::

    RelayError                      base: .code (str), .status (int | None)
    ├── AuthError                   401/403 refusals, missing credentials, invalid tokens
    ├── NotFoundError               404: no such hybrid connection, or nobody listens
    ├── RefusedError                any other refused handshake (e.g. a listener's reject)
    ├── TimeoutError                also a builtins.TimeoutError
    ├── NetworkError                DNS, TCP, TLS, HTTP; also a builtins.ConnectionError
    ├── ClosedError                 the listener or socket is closed
    │   └── ConnectionClosed        the peer closed a WebSocket: .close_code, .close_reason
    ├── ProtocolError               the relay (or a hub) broke its protocol
    ├── ConfigError                 bad connection string, argument or request; also a ValueError
    ├── HubError                    a hub method or a client result failed: the peer's error text
    └── HubConnectionError          a hub connection could not start or ended; also a
                                    builtins.ConnectionError

Codes (stable): ``unauthorized`` (401), ``forbidden`` (403), ``credentials_missing``,
``credentials_unsupported``, ``token_missing``, ``token_malformed``, ``unknown_key_name``,
``bad_signature``, ``token_expired``, ``invalid_audience``, ``insufficient_rights``,
``not_found``, ``refused``, ``timeout``, ``network``, ``io``, ``closed``,
``connection_closed``, ``protocol``, ``connection_string``, ``missing_entity_path``,
``invalid_request``, ``invalid_response``, ``invalid_body``, ``invalid_message``,
``invalid_argument``, ``invalid_rights``, ``invalid_limit``, ``tls``, ``relay``.

Hub codes: ``hub`` (a method's error), ``client`` (a client result's error), ``internal``,
``invalid_value``, ``invalid_url``, ``negotiate``, ``too_many_redirects``, ``no_transport``,
``handshake_rejected``, ``handshake_timeout``, ``server_closed``, ``server_timeout``,
``client_result_timeout``, ``connection_closed``, ``not_connected``, ``already_started``,
``stopped``; hub refusals reuse ``unauthorized``, ``forbidden``, ``not_found``, ``refused``.

The native module raises these; they are plain Python classes so that ``TimeoutError`` can
derive from both ``RelayError`` and the builtin.
"""

from __future__ import annotations

import builtins
from typing import Optional

__all__ = [
    "RelayError",
    "AuthError",
    "NotFoundError",
    "RefusedError",
    "TimeoutError",
    "NetworkError",
    "ClosedError",
    "ConnectionClosed",
    "ProtocolError",
    "ConfigError",
    "HubError",
    "HubConnectionError",
]


class RelayError(Exception):
    """Base class of every interlink error.

    Attributes:
        code: stable machine-readable code (see the module docs).
        status: the HTTP status the error maps to, or ``None``.
    """

    def __init__(self, message: str, *, code: str = "relay", status: Optional[int] = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r}, code={self.code!r}, status={self.status!r})"


class AuthError(RelayError):
    """Credentials were refused (401, 403) or are missing; a token failed validation."""


class NotFoundError(RelayError):
    """404: the hybrid connection does not exist, or no listener is connected to it."""


class RefusedError(RelayError):
    """A handshake was refused with a status other than 401, 403 or 404."""


class TimeoutError(RelayError, builtins.TimeoutError):
    """An operation did not finish in time."""


class NetworkError(RelayError, builtins.ConnectionError):
    """A DNS, TCP, TLS or HTTP failure, or the gateway's port could not be bound."""


class ClosedError(RelayError):
    """The listener or socket is closed."""


class ConnectionClosed(ClosedError):
    """The peer closed the WebSocket.

    Attributes:
        close_code: the peer's close code (``None`` when its Close frame had none).
        close_reason: the peer's close reason.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "connection_closed",
        status: Optional[int] = None,
        close_code: Optional[int] = None,
        close_reason: str = "",
    ) -> None:
        super().__init__(message, code=code, status=status)
        self.close_code = close_code
        self.close_reason = close_reason


class ProtocolError(RelayError):
    """The relay broke the Hybrid Connections protocol."""


class ConfigError(RelayError, ValueError):
    """A malformed connection string, argument, request or response."""


class HubError(RelayError):
    """A hub method failed (the server's Completion error), or a client result did.

    ``str(error)`` is the peer's text, e.g. ``"An unexpected error occurred invoking 'x' on
    the server. HubException: …"``.
    """


class HubConnectionError(RelayError, builtins.ConnectionError):
    """A hub connection could not be started (negotiate, handshake) or ended (the server
    closed it, the connection was lost); also calls on a client that is not connected."""
