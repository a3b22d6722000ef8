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

    Events are built in place inside the pending response (``add``), so the hot path copies nothing. Only the
    event loop thread may call ``add``/``append``; other threads go through ``loop.call_soon_threadsafe``.
    """

    __slots__ = ("_batch", "_closed", "_loop", "_waiter", "thread_id")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._batch = pb.SessionResponse()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self.thread_id = threading.get_ident()

    def add(self, invocation_id: int, step: int) -> pb.Event:
        """Appends a new event for the step and returns it to be filled (before the next await)."""
        event = self._batch.events.add()
        event.invocation_id = invocation_id
        event.step = step
        self._wake()
        return event

    def append(self, event: pb.Event) -> None:
        """Appends a copy of an event built elsewhere (e.g. in a node's thread)."""
        self._batch.events.append(event)
        self._wake()

    def close(self) -> None:
        """Lets ``run`` return once everything pending is written."""
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def run(self, writer: ResponseWriter) -> None:
        """Writes batches until closed; returns early if a write fails (the stream is gone)."""
        while True:
            if not self._batch.events:
                if self._closed:
                    return
                self._waiter = self._loop.create_future()
                await self._waiter
                continue
            batch, self._batch = self._batch, pb.SessionResponse()
            await writer.write(batch)
