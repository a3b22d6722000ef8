"""A step's stream input: the items the host forwards in StreamItems commands, handed to the node as an iterator.

The runtime grants the host credits for the port (``Event.credit``): a window of ``WINDOW`` items when the step
starts, topped up again each time the node has used half of it, so the items held here never exceed what was
granted (docs/protocol.md, section 3.5). Items stay encoded until the node takes them: an Arrow batch is decoded
(and checked against the item schema) in the node's own thread, one at a time.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from ._failure import NodeFailure, StepError
from ._ports import PortValueError
from .gen.conductor.runtime.v1 import runtime_pb2 as pb

if TYPE_CHECKING:
    from ._ports import PortCodec
    from ._step import StepRun
    from ._values import ValueCodec

WINDOW = 64
"""Items granted at once: the most a stream input holds, whatever the stream's length."""
_TOP_UP_AT = WINDOW // 2
"""Credits are granted again when no more than this many remain unused."""


class UpstreamFailure(NodeFailure):
    """Raised where a node iterates a stream input whose producer failed: the producer's failure with the type
    ``stream.upstream``, its message and retryable flag kept (the original type is in its cause)."""

    def __init__(self, failure: pb.Failure) -> None:
        super().__init__(failure.message, retryable=failure.retryable, type="stream.upstream")
        self.upstream = failure


class InputStream:
    """The iterator a node reads one stream input with: ``for item in stream`` in a ``def`` node (waits in the
    node's thread), ``async for item in stream`` in an ``async def`` node. Iteration ends when the producer ended
    the stream and raises ``UpstreamFailure`` where it failed; a node may stop reading at any time."""

    __slots__ = (
        "_codec",
        "_condition",
        "_ended",
        "_failure",
        "_granted",
        "_items",
        "_label",
        "_loop",
        "_overrun",
        "_port",
        "_received",
        "_run",
        "_stopped",
        "_taken",
        "_values",
        "_waiter",
        "source",
    )

    def __init__(
        self,
        run: StepRun,
        port: str,
        codec: PortCodec,
        values: ValueCodec,
        label: str,
        source: pb.StreamSource,
    ) -> None:
        self._run = run
        self._port = port
        self._codec = codec
        self._values = values
        self._label = label
        self.source = source
        self._loop = run.loop
        self._items: deque[pb.Value] = deque()
        self._ended = False
        self._failure: pb.Failure | None = None
        self._overrun: StepError | None = None
        self._stopped: str | None = None
        self._granted = 0
        self._received = 0
        self._taken = 0
        self._condition = threading.Condition(threading.Lock())
        self._waiter: asyncio.Future[None] | None = None

    def open(self) -> None:
        """Grants the first window of credits."""
        with self._condition:
            if self._granted:
                return
            self._granted = WINDOW
        self._run.credit(self._port, WINDOW)

    # ------------------------------------------------------------------ from the host (event loop thread)

    def receive(self, message: pb.StreamItems) -> None:
        """Takes the next items, the end or the failure of the stream."""
        with self._condition:
            if self._ended or self._failure is not None or self._overrun is not None or self._stopped is not None:
                return  # the stream has ended, or the step stopped reading: what still arrives is dropped
            room = self._granted - self._received
            items = message.items
            self._items.extend(items[:room])
            self._received += min(len(items), room)
            if len(items) > room:
                self._overrun = StepError(
                    f'{self._label}: the host sent {len(items)} items on stream input "{self._port}" when {room} '
                    "credits remained",
                    "stream.overrun",
                )
            elif message.HasField("failure"):
                self._failure = message.failure
            elif message.end:
                self._ended = True
            self._condition.notify_all()
        self._wake()

    def stop(self, reason: str) -> None:
        """The step was cancelled or ended: wakes a reader (it gets ``stream.stopped``) and drops later items."""
        with self._condition:
            if self._stopped is None:
                self._stopped = reason
            self._items.clear()
            self._condition.notify_all()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # ------------------------------------------------------------------ the node's side

    def __iter__(self) -> InputStream:
        return self

    def __next__(self) -> Any:
        with self._condition:
            while not self._ready():
                self._condition.wait()
            value, position, top_up = self._take()
        return self._decode(value, position, top_up)

    def __aiter__(self) -> InputStream:
        return self

    async def __anext__(self) -> Any:
        while True:
            with self._condition:
                if self._ready():
                    try:
                        value, position, top_up = self._take()
                    except StopIteration:
                        raise StopAsyncIteration from None
                    break
            waiter = self._waiter = self._loop.create_future()
            await waiter
        return self._decode(value, position, top_up)

    def _ready(self) -> bool:
        return (
            bool(self._items)
            or self._ended
            or self._failure is not None
            or self._overrun is not None
            or self._stopped is not None
        )

    def _take(self) -> tuple[pb.Value, int, int]:
        """Under the lock, once ready: the next item, its position and the credits to grant now (0 for none)."""
        if self._stopped is not None:
            raise NodeFailure(
                f'{self._label}: stream input "{self._port}" stopped: {self._stopped}', type="stream.stopped"
            )
        if self._overrun is not None:
            raise self._overrun  # a host bug: fail at once rather than read on
        if not self._items:
            if self._failure is not None:
                raise UpstreamFailure(self._failure)
            raise StopIteration
        value = self._items.popleft()
        position = self._taken
        self._taken += 1
        top_up = 0
        if (
            not self._ended
            and self._failure is None
            and self._overrun is None
            and self._granted - self._taken <= _TOP_UP_AT
        ):
            top_up = self._taken + WINDOW - self._granted
            self._granted += top_up
        return value, position, top_up

    def _decode(self, value: pb.Value, position: int, top_up: int) -> Any:
        if top_up:
            self._run.credit(self._port, top_up)
        try:
            return self._codec.from_wire(value, self._values)
        except PortValueError as error:
            where = f" at {error.path}" if error.path else ""
            raise StepError(
                f'{self._label}: item {position} of stream input "{self._port}"{where} expected {error.expected}, '
                f"found {error.found}",
                "input.invalid",
            ) from None
