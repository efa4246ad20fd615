"""``RelayListener``: a Hybrid Connections listener whose HTTP handler runs in asyncio.

Design: the native listener (Rust, on smol) queues every HTTP request with a one-shot
responder; a dispatch task of this module takes them in the event loop
(``await native.next_request()``), runs the user's handler there (plain or ``async``), and
sends the response back. So handler code always runs on the asyncio thread, like any other
coroutine of the application. Accepted WebSockets come from ``await listener.accept()`` (or
``async for socket in listener``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, AsyncIterator, Awaitable, Callable, Optional, Set, Union

from ._interlink import AcceptInfo, NativeListener, Request, Response, WebSocket
from ._opening import Opening

__all__ = ["RelayListener", "Handler", "AcceptFilter"]

log = logging.getLogger("interlink")

#: What a handler may return: a ``Response``, a status, ``(status, body)``,
#: ``(status, headers, body)``, or a body (``bytes`` / ``str``, status 200).
HandlerResult = Union[Response, int, bytes, str, tuple]
#: An HTTP handler: ``handler(request)`` returning a result or an awaitable of one.
Handler = Callable[[Request], Union[HandlerResult, Awaitable[HandlerResult]]]
#: An accept filter: ``None``/``True`` accepts, ``False`` rejects with 403, a status or
#: ``(status, description)`` rejects with that.
AcceptFilter = Callable[[AcceptInfo], Union[None, bool, int, tuple]]


def as_response(result: Any) -> Response:
    """Turns what a handler returned into a ``Response`` (``TypeError`` if it cannot)."""
    if isinstance(result, Response):
        return result
    if isinstance(result, bool):
        raise TypeError("a handler returned a bool; return a Response")
    if isinstance(result, int):
        return Response(result)
    if isinstance(result, (bytes, bytearray, str)):
        return Response(200, body=result)
    if isinstance(result, tuple):
        if len(result) == 2:
            return Response(result[0], body=result[1])
        if len(result) == 3:
            return Response(result[0], headers=result[1], body=result[2])
    raise TypeError(f"a handler returned {type(result).__name__}; return a Response")


class RelayListener:
    """A listener on one hybrid connection. Create it with :meth:`bind`.

    The control channel reconnects on its own until :meth:`close` (or a 404 from the relay).
    """

    def __init__(self, native: NativeListener) -> None:
        self._native = native
        self._handler: Optional[Handler] = None
        self._dispatch: Optional[asyncio.Task[None]] = None
        self._tasks: Set[asyncio.Task[None]] = set()

    @classmethod
    def bind(
        cls,
        connection_string: str,
        hybrid_connection: Optional[str] = None,
        *,
        handler: Optional[Handler] = None,
        accept_filter: Optional[AcceptFilter] = None,
        tracking_id: Optional[str] = None,
        connect_timeout: Optional[float] = None,
        accept_timeout: Optional[float] = None,
        handler_timeout: Optional[float] = None,
        ca_pem: Optional[bytes] = None,
    ) -> Opening["RelayListener"]:
        """Connects the control channel for ``hybrid_connection`` (or the connection string's
        ``EntityPath``); resolves once online.

        Raises ``NotFoundError`` (no such hybrid connection), ``AuthError`` (401/403),
        ``NetworkError``, ``TimeoutError`` or ``ConfigError``. ``handler`` serves HTTP
        requests (without one they get 501); ``accept_filter`` decides on WebSockets: it is
        called synchronously on interlink's I/O thread, so keep it quick and do not touch the
        event loop from it. Timeouts are in seconds; ``handler_timeout`` (55 s) is how long a
        handler may take before the sender gets 500.
        """

        async def open_() -> RelayListener:
            native = await NativeListener.bind(
                connection_string,
                hybrid_connection,
                tracking_id=tracking_id,
                connect_timeout=connect_timeout,
                accept_timeout=accept_timeout,
                handler_timeout=handler_timeout,
                ca_pem=ca_pem,
            )
            listener = cls(native)
            if accept_filter is not None:
                listener.set_accept_filter(accept_filter)
            if handler is not None:
                listener.handler = handler
            return listener

        return Opening(open_)

    @property
    def handler(self) -> Optional[Handler]:
        """The HTTP handler; setting it starts serving requests (call from the event loop)."""
        return self._handler

    @handler.setter
    def handler(self, handler: Handler) -> None:
        self._handler = handler
        if self._dispatch is None:
            self._native.serve_requests()
            self._dispatch = asyncio.get_running_loop().create_task(self._run_dispatch())

    def set_accept_filter(self, accept_filter: AcceptFilter) -> None:
        """Sets the accept filter (see :meth:`bind`)."""
        self._native.set_accept_filter(accept_filter)

    async def accept(self) -> Optional[WebSocket]:
        """The next accepted WebSocket, or ``None`` once the listener has stopped."""
        return await self._native.accept()

    async def __aiter__(self) -> AsyncIterator[WebSocket]:
        while True:
            socket = await self._native.accept()
            if socket is None:
                return
            yield socket

    @property
    def online(self) -> bool:
        """``True`` while the control channel is up."""
        return self._native.online

    @property
    def stopped(self) -> bool:
        """``True`` once the listener has stopped for good."""
        return self._native.stopped

    async def wait_online(self) -> None:
        """Waits until the control channel is up; ``ClosedError`` if the listener stops."""
        await self._native.wait_online()

    async def close(self) -> None:
        """Closes the control channel; requests in flight are abandoned (their senders get an
        error), accepted WebSockets stay open. Idempotent."""
        await self._native.close()
        if self._dispatch is not None:
            await asyncio.gather(self._dispatch, return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> "RelayListener":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def _run_dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            item = await self._native.next_request()
            if item is None:
                return
            task = loop.create_task(self._answer(*item))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _answer(self, request: Request, responder: Any) -> None:
        handler = self._handler
        try:
            if handler is None:
                response = Response(501)
            else:
                result = handler(request)
                if inspect.isawaitable(result):
                    result = await result
                response = as_response(result)
        except Exception:  # the sender gets 500; the application gets the traceback
            log.exception("interlink: the HTTP handler failed on %s %s", request.method, request.url)
            response = Response(500, body=b"the listener's handler failed")
        try:
            responder.send(response)
        except Exception:
            log.exception("interlink: invalid response for %s %s", request.method, request.url)
            responder.send(Response(500, body=b"the listener's handler gave an invalid response"))
