"""A step's stream outputs: each item sent as a Chunk event, only within the credits the host granted.

The runtime pulls the node's generator one item per credit (``CreditGate.take`` before ``next``), so the node's
code never runs more than the credits ahead of the host's slowest reader (docs/protocol.md, section 3.5). Where a
generator is pulled follows where the node's code runs: a sync generator of a ``def`` node in the thread pool
(waiting for credits there), anything else (async generators, a sync generator of an ``async def`` or ``inline``
node) on the event loop. When the stream stops early (a Cancel, a timeout, another stream of the step failing) the
generator is closed in the place it runs, so its ``finally`` blocks run.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from pydantic_core import to_json

from ._context import CURRENT_STEP
from ._failure import StepError
from ._ports import PortValueError
from ._stream import Checkpoint
from ._telemetry import enter_step, leave_step

if TYPE_CHECKING:
    from ._node import OutputPort
    from ._step import StepRun

_YIELD_EVERY = 64
"""A pump on the event loop lets the other tasks run after this many items even when it never has to wait (a
large credit window, a generator that never awaits), so that a long stream cannot starve the session's reader."""


class CreditGate:
    """The credits the host granted for one stream output of one step, less the items sent under them.

    ``grant`` and ``stop`` are called on the event loop thread; one pump takes credits, on the loop (``take``) or
    in a pool thread (``take_blocking``)."""

    __slots__ = ("_available", "_condition", "_loop", "_stopped", "_waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._available = 0
        self._stopped = False
        self._condition = threading.Condition(threading.Lock())
        self._waiter: asyncio.Future[None] | None = None

    def grant(self, items: int) -> None:
        with self._condition:
            self._available += items
            self._condition.notify_all()
        self._wake()

    def stop(self) -> None:
        """Ends the stream: a waiting pump returns False and closes its generator."""
        with self._condition:
            self._stopped = True
            self._condition.notify_all()
        self._wake()

    async def take(self) -> bool:
        """Waits for a credit and uses it; False once stopped."""
        while True:
            with self._condition:
                if self._stopped:
                    return False
                if self._available > 0:
                    self._available -= 1
                    return True
            waiter = self._waiter = self._loop.create_future()
            await waiter

    def take_blocking(self) -> bool:
        """``take`` for a pump in a pool thread."""
        with self._condition:
            while not self._stopped and self._available == 0:
                self._condition.wait()
            if self._stopped:
                return False
            self._available -= 1
            return True

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)


def send_item(run: StepRun, port: OutputPort, item: Any, position: int) -> None:
    """Checks one item against the port's item type and sends it as a Chunk event (from any thread)."""
    codec = port.codec
    try:
        checked = codec.from_live(item)
        event = run.new_event()
        chunk = event.chunk
        chunk.port = port.name
        codec.to_wire(checked, chunk.value, run.codec)
    except PortValueError as error:
        where = f" at {error.path}" if error.path else ""
        raise StepError(
            f'{run.definition.label(run.step)}: item {position} of stream output "{port.name}" is invalid{where}: '
            f"expected {error.expected}, found {error.found}",
            "output.invalid",
        ) from None
    run.push(event)


def send_checkpoint(run: StepRun, port: OutputPort, mark: Checkpoint) -> None:
    """Sends a checkpoint the generator yielded as an Event.checkpoint (from any thread): not an item, no credit."""
    event = run.new_event()
    event.checkpoint.port = port.name
    event.checkpoint.state.json = to_json(mark.state, inf_nan_mode="null", fallback=repr)
    run.push(event)


def pump_in_thread(run: StepRun, port: OutputPort, iterator: Iterator[Any], gate: CreditGate) -> None:
    """Pulls a sync generator in a pool thread, one item per credit, until it ends, fails or the gate stops."""
    context_token = CURRENT_STEP.set(run)
    # Spans the generator's code creates nest under the host's span of the node, as the node's own do.
    traced = enter_step(run.step) if run.step.traceparent else None
    position = 0
    # A checkpoint the generator yields costs no credit: the one taken is kept for the next item.
    held = False
    try:
        while held or gate.take_blocking():
            try:
                item = next(iterator)
            except StopIteration:
                return
            if held := isinstance(item, Checkpoint):
                send_checkpoint(run, port, item)
                continue
            send_item(run, port, item, position)
            position += 1
    finally:
        _close(iterator)
        leave_step(traced)
        CURRENT_STEP.reset(context_token)


async def pump_on_loop(
    run: StepRun, port: OutputPort, iterator: Iterator[Any] | AsyncIterator[Any], gate: CreditGate
) -> None:
    """Pulls a generator on the event loop, one item per credit, until it ends, fails or the gate stops (or its
    task is cancelled: an async generator then gets ``CancelledError`` at the await it is in)."""
    traced = enter_step(run.step) if run.step.traceparent else None
    position = 0
    held = False
    try:
        if isinstance(iterator, AsyncIterator):
            while held or await gate.take():
                try:
                    item = await anext(iterator)
                except StopAsyncIteration:
                    return
                if held := isinstance(item, Checkpoint):
                    send_checkpoint(run, port, item)
                    continue
                send_item(run, port, item, position)
                position += 1
                if position % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
        else:
            while held or await gate.take():
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                if held := isinstance(item, Checkpoint):
                    send_checkpoint(run, port, item)
                    continue
                send_item(run, port, item, position)
                position += 1
                if position % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
    finally:
        try:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()
            else:
                _close(iterator)
        finally:
            leave_step(traced)


def _close(iterator: object) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        close()
