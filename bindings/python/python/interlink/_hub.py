"""SignalR hubs from asyncio: :class:`HubClient`, :class:`HubServer` and the demo hub.

Values cross as plain Python values (``None``, ``bool``, ``int``, ``float``, ``str``,
``bytes``, lists / tuples, dicts with str keys): JSON on the wire with ``protocol="json"``
(``bytes`` as base64 strings), MessagePack with ``"messagepack"`` (``bytes`` as ``bin``).

Design: no Python code runs on interlink's threads. The native objects queue what Python
must handle — a server's call of a client method, a client's call of a hub method,
lifecycle events — and the dispatch tasks of this module take them in the event loop
(``await native.next_call()``), run the handler there (plain function or coroutine
function) and send the answer back.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import (
    Any,
    Awaitable,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

from ._interlink import HubContext, HubStream, NativeHubClient, NativeHubServer
from ._opening import Opening
from .errors import ConfigError, HubError

__all__ = ["DemoHubServer", "HubClient", "HubContext", "HubServer", "HubStream", "start_demo_hub_server"]

log = logging.getLogger("interlink")

#: The JS client's automatic reconnect schedule (seconds).
DEFAULT_RECONNECT_DELAYS = (0.0, 2.0, 10.0, 30.0)
#: How long ``stop()`` waits for the lifecycle callbacks of the final ``closed`` event.
_EVENT_GRACE = 5.0


def _call(fn: Callable[..., Any], *args: Any) -> Awaitable[Any]:
    """Runs ``fn(*args)``; an awaitable result is awaited (returned as one awaitable)."""

    async def run() -> Any:
        result = fn(*args)
        if inspect.isawaitable(result):
            result = await result
        return result

    return run()


async def _cancel_all(tasks: Iterable["asyncio.Future[Any]"]) -> None:
    pending = [t for t in tasks if not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)


def _is_upload(value: Any) -> bool:
    return hasattr(value, "__aiter__") and not isinstance(value, (str, bytes, bytearray))


async def _feed(sink: Any, source: Any) -> None:
    """Pushes the items of an async iterable into an upload, then completes it."""
    try:
        async for item in source:
            if not await sink.push(item):
                break
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("interlink: an upload stream's source failed; the upload ends here")
    finally:
        sink.complete()


def _reconnect_delays(automatic_reconnect: Union[bool, Sequence[float], None]) -> Optional[List[float]]:
    if automatic_reconnect is None or automatic_reconnect is False:
        return None
    if automatic_reconnect is True:
        return list(DEFAULT_RECONNECT_DELAYS)
    return [float(d) for d in automatic_reconnect]


class HubClient:
    """A SignalR hub client (WebSockets; JSON or MessagePack).

    ``await start()`` negotiates and connects; calls are ``await invoke(method, *args)``,
    ``await send(method, *args)`` and ``stream(method, *args)`` (``async for``); server calls
    of client methods go to the handlers registered with :meth:`on`. Arguments that are async
    iterables become upload streams. Use it as ``async with HubClient(url) as client:``.

    Options: ``protocol`` (``"json"`` or ``"messagepack"``), ``access_token`` (sent as
    ``Authorization: Bearer``), ``headers``, ``skip_negotiation`` (straight to the
    WebSocket), ``stateful_reconnect``, ``automatic_reconnect`` (``True`` for 0, 2, 10, 30 s,
    or a list of delays in seconds), ``keep_alive_interval`` (15 s), ``server_timeout``
    (30 s), ``handshake_timeout`` (15 s), ``ca_pem`` (an extra CA for ``https``).
    """

    def __init__(
        self,
        url: str,
        protocol: str = "json",
        *,
        access_token: Optional[str] = None,
        headers: Optional[Union[Mapping[str, str], Iterable[Tuple[str, str]]]] = None,
        skip_negotiation: bool = False,
        stateful_reconnect: bool = False,
        automatic_reconnect: Union[bool, Sequence[float]] = False,
        keep_alive_interval: Optional[float] = None,
        server_timeout: Optional[float] = None,
        handshake_timeout: Optional[float] = None,
        ca_pem: Optional[bytes] = None,
    ) -> None:
        self._native = NativeHubClient(
            url,
            protocol,
            access_token=access_token,
            headers=headers,
            skip_negotiation=skip_negotiation,
            stateful_reconnect=stateful_reconnect,
            reconnect=_reconnect_delays(automatic_reconnect),
            keep_alive_interval=keep_alive_interval,
            server_timeout=server_timeout,
            handshake_timeout=handshake_timeout,
            ca_pem=ca_pem,
        )
        self._handlers: Dict[int, Tuple[str, Callable[..., Any]]] = {}
        self._next_handler = 0
        self._on_reconnecting: List[Callable[[Optional[BaseException]], Any]] = []
        self._on_reconnected: List[Callable[[Optional[str]], Any]] = []
        self._on_close: List[Callable[[Optional[BaseException]], Any]] = []
        self._calls: Optional[asyncio.Task[None]] = None
        self._events: Optional[asyncio.Task[None]] = None
        self._tasks: Set[asyncio.Task[Any]] = set()

    # -- state ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The hub URL."""
        return self._native.url

    @property
    def protocol(self) -> str:
        """``"json"`` or ``"messagepack"``."""
        return self._native.protocol

    @property
    def state(self) -> str:
        """``"disconnected"``, ``"connecting"``, ``"connected"`` or ``"reconnecting"``."""
        return self._native.state

    @property
    def connection_id(self) -> Optional[str]:
        """The connection's id (``None`` while disconnected and with ``skip_negotiation``)."""
        return self._native.connection_id

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Connects (negotiate, WebSocket, handshake). A failure raises and is not retried:
        ``AuthError`` / ``NotFoundError`` / ``RefusedError`` for refusals,
        ``HubConnectionError`` (handshake, negotiate answer), ``NetworkError``,
        ``TimeoutError``, ``ConfigError`` (bad URL)."""
        loop = asyncio.get_running_loop()
        if self._calls is None or self._calls.done():
            self._calls = loop.create_task(self._dispatch_calls())
        try:
            await self._native.start()
        except BaseException:
            if self._events is None or self._events.done():
                await _cancel_all([self._calls])
                self._calls = None
            raise
        if self._events is None or self._events.done():
            self._events = loop.create_task(self._dispatch_events())

    async def stop(self) -> None:
        """Closes the connection, waits until disconnected (``on_close`` callbacks ran) and
        cancels handlers still running. Pending calls fail. Idempotent."""
        await self._native.stop()
        events = self._events
        if events is not None and events is not asyncio.current_task():
            await asyncio.wait({events}, timeout=_EVENT_GRACE)
            await _cancel_all([events])
        await self._shutdown_dispatch()

    async def _shutdown_dispatch(self) -> None:
        current = asyncio.current_task()
        tasks = [t for t in [self._calls, *self._tasks] if t is not None and t is not current]
        await _cancel_all(tasks)

    async def __aenter__(self) -> "HubClient":
        await self.start()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.stop()

    # -- calls ---------------------------------------------------------------------------

    def _split(self, args: Sequence[Any]) -> Tuple[List[Any], List[Any], List["asyncio.Task[None]"]]:
        plain, sinks, feeders = [], [], []
        for a in args:
            if _is_upload(a):
                sink = self._native.upload()
                sinks.append(sink)
                feeders.append(asyncio.get_running_loop().create_task(_feed(sink, a)))
            else:
                plain.append(a)
        return plain, sinks, feeders

    async def invoke(self, method: str, *args: Any) -> Any:
        """Calls hub method ``method`` and returns its result (``None`` for a void method).
        An error Completion raises ``HubError`` with the server's text; the connection
        ending first raises ``HubConnectionError`` (or the connection's error)."""
        plain, sinks, feeders = self._split(args)
        try:
            return await self._native.invoke(method, plain, sinks)
        finally:
            await _cancel_all(feeders)

    async def send(self, method: str, *args: Any) -> None:
        """Calls ``method`` without waiting for it to run (no result, no error from the
        hub); returns once the message is queued."""
        plain, sinks, feeders = self._split(args)
        for f in feeders:
            self._track(f)
        await self._native.send(method, plain, sinks)

    def stream(self, method: str, *args: Any) -> HubStream:
        """Calls streaming method ``method``; iterate the result with ``async for``. Leaving
        the loop early (or ``await stream.aclose()``) cancels the call on the server. An
        error Completion raises ``HubError`` from the loop."""
        plain, sinks, feeders = self._split(args)
        for f in feeders:
            self._track(f)
        return self._native.stream(method, plain, sinks)

    # -- handlers ------------------------------------------------------------------------

    def on(self, method: str, handler: Optional[Callable[..., Any]] = None) -> Any:
        """Handles the server's calls of client method ``method`` (case-insensitive):
        ``handler(*args)``, a plain or a coroutine function, runs in the event loop. Its
        return value answers calls that expect a result (``None`` provides none); raising
        sends the exception's text as the error. Usable as a decorator:
        ``@client.on("message")``."""
        if handler is None:
            return lambda fn: self.on(method, fn)
        hid = self._next_handler
        self._next_handler += 1
        self._handlers[hid] = (method.lower(), handler)
        self._native.on(method, hid)
        return handler

    def off(self, method: str, handler: Optional[Callable[..., Any]] = None) -> None:
        """Removes ``handler`` from ``method``, or every handler of ``method``."""
        key = method.lower()
        for hid, (m, h) in list(self._handlers.items()):
            if m == key and (handler is None or h is handler):
                del self._handlers[hid]
        if not any(m == key for m, _ in self._handlers.values()):
            self._native.off(method)

    def on_reconnecting(self, callback: Callable[[Optional[BaseException]], Any]) -> None:
        """``callback(error)`` when a lost connection starts reconnecting."""
        self._on_reconnecting.append(callback)

    def on_reconnected(self, callback: Callable[[Optional[str]], Any]) -> None:
        """``callback(connection_id)`` when a reconnect succeeded."""
        self._on_reconnected.append(callback)

    def on_close(self, callback: Callable[[Optional[BaseException]], Any]) -> None:
        """``callback(error)`` when the client is disconnected for good (``None`` after
        ``stop()`` or a clean server Close); not for a failed ``start()``."""
        self._on_close.append(callback)

    # -- dispatch ------------------------------------------------------------------------

    def _track(self, task: "asyncio.Task[Any]") -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dispatch_calls(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            call = await self._native.next_call()
            if call is None:
                return
            entry = self._handlers.get(call.handler)
            if entry is None:
                call.skip()
                continue
            try:
                result = entry[1](*call.args)
            except Exception as e:
                log.debug("interlink: client handler for %r raised", call.method, exc_info=True)
                call.reject(str(e) or type(e).__name__)
                continue
            if inspect.isawaitable(result):
                self._track(loop.create_task(self._finish_call(call, result)))
            else:
                self._answer(call, result)

    async def _finish_call(self, call: Any, result: Awaitable[Any]) -> None:
        try:
            value = await result
        except asyncio.CancelledError:
            call.reject("Client handler was cancelled.")
            raise
        except Exception as e:
            log.debug("interlink: client handler for %r raised", call.method, exc_info=True)
            call.reject(str(e) or type(e).__name__)
            return
        self._answer(call, value)

    @staticmethod
    def _answer(call: Any, value: Any) -> None:
        if value is None:
            call.skip()
            return
        try:
            call.resolve(value)
        except Exception as e:
            call.reject(f"the client result cannot be sent: {e}")

    async def _dispatch_events(self) -> None:
        while True:
            event = await self._native.next_event()
            if event is None:
                return
            kind, value = event
            callbacks = {
                "reconnecting": self._on_reconnecting,
                "reconnected": self._on_reconnected,
                "closed": self._on_close,
            }[kind]
            for cb in list(callbacks):
                try:
                    await _call(cb, value)
                except Exception:
                    log.exception("interlink: a hub client %s callback failed", kind)
            if kind == "closed":
                await self._shutdown_dispatch()
                return

    def __repr__(self) -> str:
        return f"HubClient({self.url!r}, state={self.state!r})"


# -- server ------------------------------------------------------------------------------

#: A hub method: ``handler(ctx, *args)``, plain or ``async``; or ``(handler, arg_count)``.
Method = Union[Callable[..., Any], Tuple[Callable[..., Any], int]]

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _arity(name: str, method: Method, extra: int = 0) -> Tuple[Callable[..., Any], int]:
    """The handler and how many hub arguments it takes (after ``ctx`` and ``extra``
    upload streams). The hub checks the count of every call, as ASP.NET Core does."""
    if isinstance(method, tuple):
        fn, count = method
        return fn, int(count)
    if not callable(method):
        raise ConfigError(f"hub method {name!r} is not callable", code="invalid_argument")
    try:
        params = list(inspect.signature(method).parameters.values())
    except (TypeError, ValueError):
        raise ConfigError(
            f"hub method {name!r}: cannot read its signature; pass (handler, arg_count)",
            code="invalid_argument",
        ) from None
    if any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in params):
        raise ConfigError(
            f"hub method {name!r} takes *args: name its arguments or pass (handler, arg_count)",
            code="invalid_argument",
        )
    count = sum(1 for p in params if p.kind in _POSITIONAL) - 1 - extra
    if count < 0:
        raise ConfigError(
            f"hub method {name!r} must take ctx{' and its upload stream' if extra else ''}",
            code="invalid_argument",
        )
    return method, count


class HubServer:
    """A hub whose methods are Python functions, served over WebSockets, Server-Sent
    Events and long polling (JSON and MessagePack). Create it with :meth:`start`."""

    def __init__(self, native: NativeHubServer, handlers: Dict[str, Tuple[str, Callable[..., Any]]]) -> None:
        self._native = native
        self._handlers = handlers
        self._dispatch: Optional[asyncio.Task[None]] = None
        self._tasks: Set[asyncio.Task[Any]] = set()

    @classmethod
    def start(
        cls,
        bind: str = "127.0.0.1:0",
        path: str = "/hub",
        *,
        methods: Optional[Mapping[str, Method]] = None,
        stream_methods: Optional[Mapping[str, Method]] = None,
        upload_methods: Optional[Mapping[str, Method]] = None,
        on_connected: Optional[Callable[[HubContext], Any]] = None,
        on_disconnected: Optional[Callable[[HubContext, Optional[str]], Any]] = None,
        keep_alive_interval: Optional[float] = None,
        client_timeout: Optional[float] = None,
        handshake_timeout: Optional[float] = None,
        stateful_reconnect: bool = True,
        max_parallel_invocations: int = 1,
        client_result_timeout: Optional[float] = None,
        max_message_size: Optional[int] = None,
        tokens: Optional[Mapping[str, Optional[str]]] = None,
    ) -> Opening["HubServer"]:
        """Binds ``bind`` (default: an OS-chosen port on 127.0.0.1) and serves the hub at
        ``path``. Await it, or use it with ``async with``.

        - ``methods``: ``{name: handler}``, ``handler(ctx, *args)`` returning the result
          (``None`` for void). Raising sends ``str(exc)`` in the Completion error
          (``... HubException: <text>``).
        - ``stream_methods``: ``{name: handler}`` returning an async (or plain) iterable,
          typically an async generator function; each item is a StreamItem. The caller's
          cancel cancels the generator.
        - ``upload_methods``: ``{name: handler}``, ``handler(ctx, *args, stream)``: the last
          parameter is the client's upload stream (``async for item in stream``).
        - ``on_connected(ctx)``: runs when a connection completed its handshake, before its
          first call (it may use ``ctx.invoke_caller``); ``on_disconnected(ctx, error)``
          when it ended (``error`` is ``None`` for a clean end), already out of its groups.

        Argument counts come from the signatures (the hub refuses calls with another count),
        or pass ``(handler, arg_count)``. ``ctx`` is a :class:`HubContext`.

        Options: keep-alive (15 s), client timeout (30 s), handshake timeout (15 s), in
        seconds; ``stateful_reconnect`` granted to clients that ask; unary calls per
        connection at once (1, ASP.NET Core's default; a method waiting for
        ``ctx.invoke_caller`` keeps its slot); ``client_result_timeout`` (30 s);
        ``max_message_size`` (32 KB); ``tokens`` ``{bearer token: user id or None}``:
        when given, every request needs one of these tokens (else 401) and
        ``ctx.user_id`` is its user. Raises ``NetworkError`` (code ``io``) when the port
        cannot be bound.
        """
        handlers: Dict[str, Tuple[str, Callable[..., Any]]] = {}
        if on_connected is not None:
            handlers["\0connected"] = ("connected", on_connected)
        if on_disconnected is not None:
            handlers["\0disconnected"] = ("disconnected", on_disconnected)
        specs: List[Tuple[str, str, int, int]] = []
        for kind, table, uploads in (
            ("unary", methods, 0),
            ("stream", stream_methods, 0),
            ("upload", upload_methods, 1),
        ):
            for name, method in (table or {}).items():
                if name in handlers:
                    raise ConfigError(f"hub method {name!r} is declared twice", code="invalid_argument")
                fn, count = _arity(name, method, uploads)
                handlers[name] = (kind, fn)
                specs.append((name, kind, count, uploads))

        async def open_() -> HubServer:
            native = await NativeHubServer.start(
                bind,
                path,
                specs,
                on_connected=on_connected is not None,
                on_disconnected=on_disconnected is not None,
                keep_alive_interval=keep_alive_interval,
                client_timeout=client_timeout,
                handshake_timeout=handshake_timeout,
                stateful_reconnect=stateful_reconnect,
                max_parallel_invocations=max_parallel_invocations,
                client_result_timeout=client_result_timeout,
                max_message_size=max_message_size,
                tokens=dict(tokens) if tokens is not None else None,
            )
            server = cls(native, handlers)
            server._dispatch = asyncio.get_running_loop().create_task(server._run_dispatch())
            return server

        return Opening(open_)

    # -- addresses -----------------------------------------------------------------------

    @property
    def local_addr(self) -> str:
        """The bound address, ``"127.0.0.1:PORT"``."""
        return self._native.local_addr

    @property
    def port(self) -> int:
        """The bound port."""
        return self._native.port

    @property
    def path(self) -> str:
        """The hub's path."""
        return self._native.path

    @property
    def url(self) -> str:
        """``http://HOST:PORT/PATH``: what a client connects to."""
        return f"http://{self._native.local_addr}{self._native.path}"

    # -- the hub from outside --------------------------------------------------------------

    def broadcast(self, method: str, *args: Any) -> int:
        """Calls ``method(*args)`` on every connection; returns how many it was queued on."""
        return self._native.broadcast(method, *args)

    def send_to_group(self, group: str, method: str, *args: Any) -> int:
        """Calls ``method(*args)`` on the members of ``group``."""
        return self._native.send_to_group(group, method, *args)

    def send_to_connection(self, connection_id: str, method: str, *args: Any) -> int:
        """Calls ``method(*args)`` on one connection (0 if it is not open)."""
        return self._native.send_to_connection(connection_id, method, *args)

    def send_to_user(self, user_id: str, method: str, *args: Any) -> int:
        """Calls ``method(*args)`` on every connection of a user."""
        return self._native.send_to_user(user_id, method, *args)

    def add_to_group(self, connection_id: str, group: str) -> bool:
        """Adds a connection to ``group``; ``False`` if it already was a member. Raises
        ``HubError`` for a connection that is not open."""
        return self._native.add_to_group(connection_id, group)

    def remove_from_group(self, connection_id: str, group: str) -> bool:
        """Removes a connection from ``group``; ``False`` if it was not a member."""
        return self._native.remove_from_group(connection_id, group)

    def connection_ids(self) -> List[str]:
        """Ids of the open connections, sorted."""
        return self._native.connection_ids()

    def close_connection(self, connection_id: str, error: Optional[str] = None, allow_reconnect: bool = False) -> bool:
        """Ends one connection with a Close message; ``False`` if it is not open."""
        return self._native.close_connection(connection_id, error, allow_reconnect)

    async def close(self) -> None:
        """Stops serving: every connection gets a Close; running handlers are cancelled.
        Idempotent."""
        await self._native.close()
        if self._dispatch is not None:
            await asyncio.gather(self._dispatch, return_exceptions=True)
        await _cancel_all(list(self._tasks))

    async def __aenter__(self) -> "HubServer":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"HubServer({self.url!r})"

    # -- dispatch --------------------------------------------------------------------------

    async def _run_dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            call = await self._native.next_call()
            if call is None:
                return
            task = loop.create_task(self._serve(call))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _serve(self, call: Any) -> None:
        """Runs one call's handler; cancels it when io drops the call (the caller
        cancelled a stream, the connection ended)."""
        key = "\0" + call.kind if call.kind in ("connected", "disconnected") else call.method
        kind, fn = self._handlers[key]
        work = asyncio.ensure_future(self._run(call, kind, fn))
        gone = asyncio.ensure_future(call.gone())
        try:
            await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await _cancel_all([work, gone])

    async def _run(self, call: Any, kind: str, fn: Callable[..., Any]) -> None:
        ctx = call.context()
        args = list(call.args)
        if kind == "upload":
            args.extend(call.take_uploads())
        if kind == "stream":
            await self._run_stream(call, fn, ctx, args)
            return
        if kind in ("connected", "disconnected"):
            try:
                await _call(fn, ctx, *args)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("interlink: the hub's on_%s hook failed", kind)
            call.resolve(None)
            return
        try:
            value = await _call(fn, ctx, *args)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            _log_failure(call.method, e)
            call.reject(str(e) or type(e).__name__)
            return
        try:
            call.resolve(value)
        except Exception as e:
            call.reject(f"the result cannot be sent: {e}")

    async def _run_stream(self, call: Any, fn: Callable[..., Any], ctx: Any, args: List[Any]) -> None:
        error: Optional[str] = None
        items: Any = None
        try:
            items = fn(ctx, *args)
            if inspect.isawaitable(items) and not hasattr(items, "__aiter__"):
                items = await items
            if hasattr(items, "__aiter__"):
                async for item in items:
                    if not await call.push(item):
                        return
            else:
                for item in items:
                    if not await call.push(item):
                        return
        except asyncio.CancelledError:
            raise
        except Exception as e:
            _log_failure(call.method, e)
            error = str(e) or type(e).__name__
        finally:
            # A cancelled or abandoned generator runs its `finally` now, not at collection.
            close = getattr(items, "aclose", None)
            if close is not None:
                try:
                    await close()
                except Exception:
                    log.debug("interlink: closing the stream of %r failed", call.method, exc_info=True)
        await call.finish(error)


def _log_failure(method: str, e: BaseException) -> None:
    """A handler's ``HubError`` is meant for the caller; anything else is also logged."""
    if isinstance(e, HubError):
        log.debug("interlink: hub method %r raised %r", method, e)
    else:
        log.warning("interlink: hub method %r failed", method, exc_info=e)


def start_demo_hub_server(
    bind: str = "127.0.0.1:0",
    *,
    keep_alive_interval: Optional[float] = None,
    client_timeout: Optional[float] = None,
    handshake_timeout: Optional[float] = None,
    stateful_reconnect: bool = True,
    token: Optional[str] = None,
) -> Opening["DemoHubServer"]:
    """Starts the demo hub of ``interlink hub serve``: ``/demo`` (``url``), ``/redirect``
    (negotiate redirects to ``/client/?hub=demo`` with ``token``) and
    ``/client/?hub=demo`` (needs the bearer ``token``; random when not given). Methods:
    ``echo``, ``add``, ``counter`` (stream), ``sum`` (upload), ``broadcast``, ``joinGroup``,
    ``leaveGroup``, ``sendToGroup`` (these call ``message(connectionId, text)`` on clients),
    ``ask`` (client result of ``question``), ``whoami``, ``closeMe``, ``dropTransport``,
    ``silence``, ``connectionInfo``. Await it, or use it with ``async with``."""

    async def open_() -> DemoHubServer:
        native = await NativeHubServer.start_demo(
            bind,
            keep_alive_interval=keep_alive_interval,
            client_timeout=client_timeout,
            handshake_timeout=handshake_timeout,
            stateful_reconnect=stateful_reconnect,
            token=token,
        )
        return DemoHubServer(native, {})

    return Opening(open_)


class DemoHubServer(HubServer):
    """The demo hub server (see :func:`start_demo_hub_server`)."""

    @property
    def token(self) -> str:
        """The bearer token of ``/client/?hub=demo``."""
        return self._native.token or ""

    @property
    def redirect_url(self) -> str:
        """``http://HOST:PORT/redirect``: negotiate sends clients to ``client_url``."""
        return f"http://{self._native.local_addr}/redirect"

    @property
    def client_url(self) -> str:
        """``http://HOST:PORT/client/?hub=demo`` (bearer ``token`` needed)."""
        return f"http://{self._native.local_addr}/client/?hub=demo"
