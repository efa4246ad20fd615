"""``Opening``: what ``RelayListener.bind`` and ``Gateway.start`` return.

It is awaitable (``listener = await RelayListener.bind(...)``) and an async context manager
(``async with RelayListener.bind(...) as listener:``), which closes the object on exit.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Generator, Generic, Optional, TypeVar

T = TypeVar("T")

__all__ = ["Opening"]


class Opening(Generic[T]):
    """An object being opened: await it, or use it with ``async with``."""

    def __init__(self, open_: Callable[[], Awaitable[T]]) -> None:
        self._open = open_
        self._value: Optional[T] = None

    def __await__(self) -> Generator[Any, None, T]:
        return self._run().__await__()

    async def _run(self) -> T:
        return await self._open()

    async def __aenter__(self) -> T:
        self._value = await self._open()
        return self._value

    async def __aexit__(self, *exc_info: Any) -> None:
        value, self._value = self._value, None
        if value is not None:
            await value.close()  # type: ignore[attr-defined]
