"""Type stubs of the native module ``interlink._interlink`` (checked in; a test keeps them in
step with the module). Import from ``interlink`` instead."""

from typing import Any, Awaitable, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

__version__: str

Headers = Union[Mapping[str, str], Iterable[Tuple[str, str]], None]
BodyLike = Union[bytes, bytearray, memoryview, str, None]

class Response:
    """An HTTP response: what a sender receives and what a listener's handler returns."""

    status: int
    headers: List[Tuple[str, str]]
    body: bytes
    reason: Optional[str]
    def __init__(
        self, status: int = 200, headers: Headers = ..., body: BodyLike = ..., reason: Optional[str] = None
    ) -> None: ...
    def header(self, name: str) -> Optional[str]:
        """The first value of header ``name`` (case-insensitive)."""
    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (invalid bytes replaced)."""

class WebSocket:
    """A WebSocket through the relay; ``async for message in socket`` ends at the peer's Close."""

    path: Optional[str]
    headers: List[Tuple[str, str]]
    id: Optional[str]
    @property
    def protocol(self) -> Optional[str]: ...
    async def send(self, message: Union[str, bytes, bytearray]) -> None:
        """``str`` is sent as text, bytes as binary. Raises ``ClosedError`` once closed."""
    async def receive(self) -> Union[str, bytes]:
        """The next message; ``ConnectionClosed`` when the peer closed, ``ClosedError`` at the end."""
    async def close(self, code: int = 1000, reason: str = "") -> None: ...
    def __aiter__(self) -> "WebSocket": ...
    def __anext__(self) -> Awaitable[Union[str, bytes]]: ...
    async def _next(self) -> Union[str, bytes]: ...

class RelaySender:
    """HTTP requests and WebSockets to the listener of one hybrid connection."""

    def __init__(
        self,
        connection_string: str,
        hybrid_connection: Optional[str] = None,
        *,
        timeout: Optional[float] = None,
        ca_pem: Optional[bytes] = None,
    ) -> None: ...
    @property
    def hybrid_connection(self) -> str: ...
    async def request(
        self, method: str = "GET", path: str = "/", headers: Headers = ..., body: BodyLike = ...
    ) -> Response: ...
    async def connect(self, path: Optional[str] = None, protocols: List[str] = ...) -> WebSocket: ...

class Request:
    """An HTTP request given to a listener's handler."""

    method: str
    url: str
    headers: List[Tuple[str, str]]
    id: str
    via_rendezvous: bool
    remote_address: Optional[Tuple[str, int]]
    @property
    def body(self) -> bytes: ...
    @property
    def path(self) -> str: ...
    @property
    def query(self) -> Optional[str]: ...
    def header(self, name: str) -> Optional[str]: ...

class Responder:
    """Internal: answers one request."""

    def send(self, response: Response) -> bool: ...

class AcceptInfo:
    """What an accept filter sees of a sender."""

    path: str
    headers: List[Tuple[str, str]]
    id: str
    remote_address: Optional[Tuple[str, int]]
    def header(self, name: str) -> Optional[str]: ...

class NativeListener:
    """Internal: the native side of ``interlink.RelayListener``."""

    @staticmethod
    async def bind(
        connection_string: str,
        hybrid_connection: Optional[str] = None,
        *,
        tracking_id: Optional[str] = None,
        connect_timeout: Optional[float] = None,
        accept_timeout: Optional[float] = None,
        handler_timeout: Optional[float] = None,
        ca_pem: Optional[bytes] = None,
    ) -> "NativeListener": ...
    def serve_requests(self) -> None: ...
    async def next_request(self) -> Optional[Tuple[Request, Responder]]: ...
    def set_accept_filter(self, filter: Callable[[AcceptInfo], Any]) -> None: ...
    async def accept(self) -> Optional[WebSocket]: ...
    @property
    def online(self) -> bool: ...
    @property
    def stopped(self) -> bool: ...
    async def wait_online(self) -> None: ...
    async def close(self) -> None: ...

class NativeGateway:
    """Internal: the native side of ``interlink.Gateway``."""

    @staticmethod
    async def start(
        bind: str = "127.0.0.1:0",
        rules: Optional[List[Tuple[str, str, str]]] = None,
        hybrid_connections: Optional[List[Tuple[str, bool]]] = None,
        limits: Dict[str, float] = ...,
        tls: Optional[Tuple[bytes, bytes]] = None,
    ) -> "NativeGateway": ...
    @property
    def address(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def connection_string(self) -> str: ...
    def stats(self) -> Dict[str, int]: ...
    async def close(self) -> None: ...

class GatewayOutput:
    """One output of ``GatewayMachine.poll_output``; ``kind`` says which fields are set."""

    @property
    def kind(self) -> str: ...
    @property
    def conn(self) -> int: ...
    @property
    def pair_with(self) -> Optional[int]: ...
    @property
    def protocol(self) -> Optional[str]: ...
    @property
    def status(self) -> Optional[int]: ...
    @property
    def reason(self) -> Optional[str]: ...
    @property
    def code(self) -> Optional[int]: ...
    @property
    def text(self) -> Optional[str]: ...
    @property
    def data(self) -> Optional[bytes]: ...
    @property
    def headers(self) -> List[Tuple[str, str]]: ...
    @property
    def streaming(self) -> bool: ...
    @property
    def from_conn(self) -> Optional[int]: ...

class GatewayMachine:
    """The relay gateway as a sans-IO state machine; ``now`` is milliseconds."""

    def __init__(
        self,
        rules: List[Tuple[str, str, str]] = ...,
        hybrid_connections: Optional[List[Tuple[str, bool]]] = None,
        *,
        limits: Dict[str, float] = ...,
        unix_origin_ms: int = 0,
        seed: int = 0,
        public_base_url: Optional[str] = None,
    ) -> None: ...
    def handle_upgrade(
        self,
        now: int,
        conn: int,
        path: str,
        query: Optional[str] = None,
        headers: Headers = ...,
        host: str = "localhost",
        secure: bool = False,
        remote: Optional[Tuple[str, int]] = None,
    ) -> None: ...
    def handle_http_request(
        self,
        now: int,
        conn: int,
        method: str,
        path: str,
        query: Optional[str] = None,
        headers: Headers = ...,
        host: str = "localhost",
        secure: bool = False,
        remote: Optional[Tuple[str, int]] = None,
        body: BodyLike = ...,
        streaming: bool = False,
    ) -> None: ...
    def handle_text(self, now: int, conn: int, text: str) -> None: ...
    def handle_binary(self, now: int, conn: int, data: BodyLike, fin: bool = True) -> None: ...
    def handle_keepalive(self, now: int, conn: int) -> None: ...
    def handle_closed(self, now: int, conn: int, code: Optional[int] = None) -> None: ...
    def handle_disconnect(self, now: int, conn: int) -> None: ...
    def handle_timeout(self, now: int) -> None: ...
    def poll_output(self) -> Optional[GatewayOutput]: ...
    def poll_timeout(self) -> Optional[int]: ...
    def listener_count(self, name: str) -> int: ...
    def stats(self) -> Dict[str, int]: ...

class TokenInfo:
    """What a valid token says."""

    key_name: str
    rights: str
    expiry: int

def create_token(resource: str, key_name: str, key: str, *, expiry: Optional[int] = None, ttl: int = 3600) -> str:
    """A SAS token for ``resource``, expiring at ``expiry`` (Unix s) or ``ttl`` s from now."""

def validate_token(
    token: str,
    resource: str,
    rules: List[Tuple[str, str, str]],
    *,
    required: str = "send",
    now: Optional[int] = None,
    grace_secs: int = 300,
) -> TokenInfo:
    """Checks ``token`` like the relay does; raises ``AuthError``."""

def _shutdown() -> None:
    """Internal: the package's atexit hook."""
