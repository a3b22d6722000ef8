"""One running step: its cancellation token and the events its node emits (from the loop or from a thread)."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

from pydantic_core import to_json

from ._cancel import CancelToken
from ._constants import KILL_AFTER_S
from .gen.conductor.runtime.v1 import runtime_pb2 as pb

if TYPE_CHECKING:
    from ._node import NodeDefinition
    from ._outbox import Outbox
    from ._process import ProcessCall
    from ._stream_input import InputStream
    from ._stream_output import CreditGate
    from ._values import ValueCodec


class StepRun:
    """State of one step while it runs. Events may be emitted from any thread; after the step's terminal event
    (``closed``) late events, e.g. from a worker thread that ran on after its step ended, are dropped."""

    __slots__ = (
        "_token",
        "awaiting_node",
        "cancel_reason",
        "closed",
        "codec",
        "definition",
        "execution_id",
        "index",
        "invocation_id",
        "kill_after_s",
        "loop",
        "outbox",
        "process_call",
        "pumps",
        "step",
        "stream_gates",
        "stream_inputs",
        "task_cancelled",
        "timed_out",
    )

    def __init__(
        self,
        outbox: Outbox,
        invocation_id: int,
        execution_id: str,
        index: int,
        step: pb.Step,
        definition: NodeDefinition,
        codec: ValueCodec,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.outbox = outbox
        self.invocation_id = invocation_id
        self.execution_id = execution_id
        self.index = index
        self.step = step
        self.definition = definition
        self.codec = codec
        self.loop = loop
        self._token: CancelToken | None = None
        self.cancel_reason: str | None = None
        self.timed_out = False
        self.closed = False
        self.awaiting_node = False
        self.task_cancelled = False
        self.process_call: ProcessCall | None = None
        """The call of a process-pool node while it runs in a worker."""
        self.kill_after_s = KILL_AFTER_S
        """How long a process-pool node may run on once cancelled before its worker is killed."""
        self.stream_inputs: dict[str, InputStream] = {}
        """The step's stream inputs by port, which StreamItems commands feed."""
        self.stream_gates: list[CreditGate] = []
        """The credit gates of the step's stream outputs while they are pulled."""
        self.pumps: list[asyncio.Task[None]] = []
        """The tasks pulling stream outputs on the event loop."""

    @property
    def token(self) -> CancelToken:
        # Created on first use, because most nodes never look at it.
        token = self._token
        if token is None:
            token = self._token = CancelToken(self.loop)
            if self.cancel_reason is not None:
                token._fire(self.cancel_reason)  # pyright: ignore[reportPrivateUsage]  # noqa: SLF001 because the runtime fires the token it hands out
        return token

    def fire(self, reason: str, kill_after_s: float = KILL_AFTER_S) -> None:
        """Fires the step's cancellation token (on the loop thread), and a process-pool node's token in its worker;
        that worker is killed if the node has not returned ``kill_after_s`` seconds later."""
        if self.cancel_reason is None:
            self.kill_after_s = kill_after_s
            self.cancel_reason = reason
            if self._token is not None:
                self._token._fire(reason)  # pyright: ignore[reportPrivateUsage]  # noqa: SLF001
            call = self.process_call
            if call is not None:
                call.cancel(reason, kill_after_s)
            self.stop_streams(reason)

    def stop_streams(self, reason: str) -> None:
        """Stops the step's streams (on the loop thread): its output generators are closed where they run, and a
        node waiting for an input item gets ``stream.stopped``."""
        for stream in self.stream_inputs.values():
            stream.stop(reason)
        for gate in self.stream_gates:
            gate.stop()
        for pump in self.pumps:
            pump.cancel()

    # ------------------------------------------------------------------ events from the node

    def log(self, level: pb.Log.Level.ValueType, message: str, fields_json: bytes) -> None:
        event = self.new_event()
        event.log.level = level
        event.log.message = message
        event.log.fields_json = fields_json
        self.push(event)

    def progress(self, fraction: float, message: str) -> None:
        event = self.new_event()
        event.progress.fraction = fraction
        event.progress.message = message
        self.push(event)

    def chunk(self, port: str, value: Any) -> None:
        event = self.new_event()
        event.chunk.port = port
        self.codec.encode(value, event.chunk.value)
        self.push(event)

    def credit(self, port: str, items: int) -> None:
        """Grants the host ``items`` more items on the stream input ``port`` (from any thread)."""
        event = self.new_event()
        event.credit.port = port
        event.credit.credits = items
        self.push(event)

    def heartbeat(self, details: Any) -> None:
        event = self.new_event()
        event.heartbeat.SetInParent()
        if details is not None:
            event.heartbeat.details.json = to_json(details, inf_nan_mode="null", fallback=repr)
        self.push(event)

    def new_event(self) -> pb.Event:
        return pb.Event(invocation_id=self.invocation_id, step=self.index)

    def push(self, event: pb.Event) -> None:
        """Sends an event of the step, from the loop thread or any other."""
        if threading.get_ident() == self.outbox.thread_id:
            self._append(event)
        else:
            self.loop.call_soon_threadsafe(self._append, event)

    def _append(self, event: pb.Event) -> None:
        if not self.closed:
            self.outbox.append(event)
