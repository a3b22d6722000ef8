"""The cancellation token a node sees as ``ctx.cancelled``."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Generator
from typing import Any


class CancelToken:
    """Fires when the host cancels the step, the step's timeout passes or the session closes.

    One token serves both kinds of node:

    - sync code (running in a worker thread, or in a process-pool worker, where the token reads a flag the runtime
      sets in shared memory): poll ``is_set()``, or sleep with ``wait(seconds)``, which returns ``True`` as soon as
      the token fires;
    - async code: ``await ctx.cancelled`` returns when it fires. (An async node is also cancelled the asyncio way:
      its task receives ``CancelledError`` at the await it is suspended in.)

    A node that notices the token should stop and return (or raise); the step is reported cancelled either way.
    A process-pool node that runs on past a short grace has its worker process killed.
    """

    __slots__ = ("_callbacks", "_event", "_lock", "_loop", "_reason")

    def __init__(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._loop = loop
        self._event = threading.Event()
        self._reason: str | None = None
        self._callbacks: list[Callable[[str], Any]] = []
        self._lock = threading.Lock()

    def is_set(self) -> bool:
        """Whether the step has been cancelled."""
        return self._event.is_set()

    @property
    def reason(self) -> str | None:
        """Why the step was cancelled (``"timeout"`` for a timeout), or ``None`` while it is not."""
        return self._reason

    def wait(self, timeout: float | None = None) -> bool:
        """Blocks the calling thread until the token fires or ``timeout`` seconds pass; returns ``is_set()``.

        For sync nodes: ``if ctx.cancelled.wait(0.5): return`` sleeps half a second unless cancelled first.
        Never call it from async code; ``await ctx.cancelled`` instead.
        """
        return self._event.wait(timeout)

    def add_callback(self, callback: Callable[[str], Any]) -> None:
        """Calls ``callback(reason)`` when the token fires (at once if it already has), on the event loop thread
        (in a process-pool worker: on the thread that noticed the cancel)."""
        with self._lock:
            if self._reason is None:
                self._callbacks.append(callback)
                return
        if self._loop is None:
            callback(self._reason)
        else:
            self._loop.call_soon_threadsafe(callback, self._reason)

    def __await__(self) -> Generator[Any, None, str]:
        if self._reason is None:
            if self._loop is None:  # a process-pool worker: fired from another thread
                loop = asyncio.get_running_loop()
                future: asyncio.Future[str] = loop.create_future()
                self.add_callback(lambda reason: loop.call_soon_threadsafe(_resolve, future, reason))
            else:
                future = self._loop.create_future()
                self._callbacks.append(lambda reason: future.done() or future.set_result(reason))
            yield from future.__await__()
        return self._reason or ""

    def _fire(self, reason: str) -> None:
        """Fires the token; called on the event loop thread by the runtime."""
        with self._lock:
            if self._reason is not None:
                return
            self._reason = reason
            callbacks, self._callbacks = self._callbacks, []
        self._event.set()
        for callback in callbacks:
            callback(reason)


def _resolve(future: asyncio.Future[str], reason: str) -> None:
    if not future.done():
        future.set_result(reason)
