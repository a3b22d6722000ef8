"""The outgoing side of a session: events wait here and leave together, one SessionResponse per write."""

from __future__ import annotations

import asyncio
import threading
from typing import Protocol

from .gen.conductor.runtime.v1 import runtime_pb2 as pb


class ResponseWriter(Protocol):
    async def write(self, message: pb.SessionResponse, /) -> None: ...


class Outbox:
    """Collects events and writes them in batches: whatever became ready while the previous write was in flight
    (a step's ``completed`` and the next step's ``started``, logs, ...) leaves in the next single message.

    Two writers share it, never at once: the session's reader flushes right after it handled a request (so an
    invocation that finished at once costs no extra turn of the event loop), and a writer task sends what nodes
    produce later. Events are built in place inside the pending response (``add``), so the hot path copies
    nothing. Only the event loop thread may call ``add``/``append``; other threads use ``call_soon_threadsafe``.
    """

    __slots__ = ("_batch", "_closed", "_holding", "_loop", "_waiter", "_writing", "thread_id")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._batch = pb.SessionResponse()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._holding = False
        self._writing = False
        self.thread_id = threading.get_ident()

    def add(self, invocation_id: int, step: int) -> pb.Event:
        """Appends a new event for the step and returns it to be filled (before the next await)."""
        event = self._batch.events.add()
        event.invocation_id = invocation_id
        event.step = step
        if not self._holding:
            self._wake()
        return event

    def append(self, event: pb.Event) -> None:
        """Appends a copy of an event built elsewhere (e.g. in a node's thread)."""
        self._batch.events.append(event)
        if not self._holding:
            self._wake()

    def hold(self) -> None:
        """The reader is handling a request and will ``flush`` itself: do not wake the writer task meanwhile."""
        self._holding = True

    async def flush(self, writer: ResponseWriter) -> None:
        """Ends ``hold``: writes what is pending now unless the writer task is busy (it then sends it next)."""
        self._holding = False
        if not self._batch.events:
            return
        if self._writing:
            self._wake()
            return
        await self._write(writer)
        if self._batch.events:
            self._wake()

    def close(self) -> None:
        """Lets ``run`` return once everything pending is written."""
        self._closed = True
        self._holding = False
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def _write(self, writer: ResponseWriter) -> None:
        self._writing = True
        try:
            batch, self._batch = self._batch, pb.SessionResponse()
            await writer.write(batch)
        finally:
            self._writing = False

    async def run(self, writer: ResponseWriter) -> None:
        """The writer task: writes batches until closed; a failed write (the stream is gone) ends it."""
        while True:
            if not self._batch.events or self._writing or self._holding:
                if self._closed and not self._batch.events:
                    return
                self._waiter = self._loop.create_future()
                await self._waiter
                continue
            await self._write(writer)
