"""One invocation: its steps run in order, each ending in exactly one terminal event.

Where a step's code runs (``NodeDefinition.executor``):

- ``async``: awaited in the invocation's task; a cancel or timeout fires the token *and* cancels the task, so the
  node gets ``CancelledError`` at the await it is in;
- ``inline``: called in the invocation's task (no thread hop; for sync code that returns in microseconds);
- ``thread``/``process``: input decoding, the call and output encoding run in the thread pool (a process-pool
  node's call is sent on to the process pool, see ``_process``), so big tables never block the event loop. A cancel
  or a timeout fires the token and waits for the node to return. A process-pool node that has not returned a short
  grace after a cancel or timeout has its worker killed, so nothing keeps running.

A step with stream outputs stays running after its node returned, until its streams end: the runtime pulls each
stream within the host's credits (``_stream_output``), then sends the step's terminal event. A step's stream inputs
are fed by StreamItems commands (``_stream_input``).

A timed-out step is reported (``failed`` with type ``timeout``) only once its node has returned, whatever the
executor: reported earlier, the host's retry would run beside code still running. A thread that never returns is
the host's to end: it restarts the runtime when the step outlives its Cancel's grace (docs/protocol.md, section 3.1).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from ._constants import KILL_AFTER_S
from ._context import CURRENT_STEP
from ._failure import failure_from_exception
from ._step import StepRun
from ._stream_output import CreditGate, pump_in_thread, pump_on_loop
from ._telemetry import enter_step, leave_step
from .gen.conductor.runtime.v1 import runtime_pb2 as pb

if TYPE_CHECKING:
    from ._node import NodeDefinition
    from ._outbox import Outbox
    from ._runtime import Runtime

_Result = tuple[dict[str, Any], pb.Completed | None]


class Invocation:
    """Runs the steps of one Execute command and answers Cancel for it."""

    __slots__ = (
        "_on_done",
        "cancel_reason",
        "current",
        "definitions",
        "execute",
        "gates",
        "outbox",
        "runtime",
        "task",
    )

    def __init__(
        self,
        runtime: Runtime,
        outbox: Outbox,
        execute: pb.Execute,
        definitions: list[NodeDefinition],
        on_done: Any,
    ) -> None:
        self.runtime = runtime
        self.outbox = outbox
        self.execute = execute
        self.definitions = definitions
        self._on_done = on_done
        self.current: StepRun | None = None
        self.cancel_reason: str | None = None
        self.task: asyncio.Task[None] | None = None
        self.gates: dict[tuple[int, str], CreditGate] = {}
        """The credits of stream outputs by (step, port), kept from the first Credit on, even before the step runs."""

    def credit(self, credit: pb.Credit) -> None:
        """Adds the host's credits to a stream output of one of the steps (the Credit command)."""
        self._gate(credit.step, credit.port).grant(credit.credits)

    def stream_items(self, message: pb.StreamItems) -> None:
        """Hands items, the end or the failure of a stream input to the running step; dropped when that step is
        not running (it ended, or stopped reading)."""
        run = self.current
        if run is not None and run.index == message.step and not run.closed:
            stream = run.stream_inputs.get(message.port)
            if stream is not None:
                stream.receive(message)

    def _gate(self, step: int, port: str) -> CreditGate:
        gate = self.gates.get((step, port))
        if gate is None:
            gate = self.gates[step, port] = CreditGate(self.runtime.loop)
        return gate

    def cancel(self, reason: str, grace_ms: int = 0) -> None:
        """Fires the running step's token at once; an async node's task is cancelled too. A process-pool node that
        runs on for half of ``grace_ms`` (``KILL_AFTER_S`` without one) has its worker process killed."""
        if self.cancel_reason is not None:
            return
        self.cancel_reason = reason
        run = self.current
        if run is not None and not run.closed:
            run.fire(reason, grace_ms / 2000 if grace_ms > 0 else KILL_AFTER_S)
            self._interrupt(run)

    def _interrupt(self, run: StepRun) -> None:
        if run.awaiting_node and self.task is not None and not run.task_cancelled:
            run.task_cancelled = True
            self.task.cancel()

    def _on_timeout(self, run: StepRun) -> None:
        if run.closed or run.timed_out:
            return
        run.timed_out = True
        run.fire("timeout")
        self._interrupt(run)

    def runs_inline(self) -> bool:
        """Whether every step is ``inline`` and untimed: then the invocation runs to its end right away, in the
        reader's turn of the loop, and costs no task (the hot path of chains of small nodes)."""
        for index, step in enumerate(self.execute.steps):
            definition = self.definitions[index]
            if definition.executor != "inline" or step.timeout_ms or definition.has_streams:
                return False
        return True

    def run_inline(self) -> None:
        """Runs an invocation whose steps are all inline (see ``runs_inline``) synchronously."""
        codec = self.runtime.codec
        try:
            outputs: list[dict[str, Any]] = []
            for index, step in enumerate(self.execute.steps):
                definition = self.definitions[index]
                run = self._begin(index, step, definition)
                started_ns = time.perf_counter_ns()
                result: _Result | None = None
                failure: pb.Failure | None = None
                try:
                    arguments = definition.prepare(run, outputs, codec)
                    context_token = CURRENT_STEP.set(run)
                    traced = enter_step(step) if step.traceparent else None
                    try:
                        value = definition.function(**arguments)
                    finally:
                        leave_step(traced)
                        CURRENT_STEP.reset(context_token)
                    result = (definition.split(value, run.step), None)
                except BaseException as error:  # noqa: BLE001 because whatever a node raises becomes a Failure
                    failure = failure_from_exception(error)
                live = self._finish(run, started_ns, result, failure)
                if live is None:
                    break
                outputs.append(live)
        finally:
            self.current = None
            self._on_done(self)

    def _begin(self, index: int, step: pb.Step, definition: NodeDefinition) -> StepRun:
        """Creates the step's run and emits ``started``."""
        execute = self.execute
        run = StepRun(
            self.outbox,
            execute.invocation_id,
            execute.execution_id,
            index,
            step,
            definition,
            self.runtime.codec,
            self.runtime.loop,
        )
        self.current = run
        self.outbox.add(execute.invocation_id, index).started.SetInParent()
        return run

    async def run(self) -> None:
        try:
            execute = self.execute
            outputs: list[dict[str, Any]] = []
            for index, step in enumerate(execute.steps):
                live = await self._run_step(index, step, self.definitions[index], outputs)
                if live is None:
                    break
                outputs.append(live)
        finally:
            self.current = None
            self._on_done(self)

    async def _run_step(
        self, index: int, step: pb.Step, definition: NodeDefinition, outputs: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """Runs one step and emits its events; returns its live outputs, or None when it did not complete."""
        runtime = self.runtime
        loop = runtime.loop
        run = self._begin(index, step, definition)
        started_ns = time.perf_counter_ns()
        if self.cancel_reason is not None:
            run.fire(self.cancel_reason)
            return self._finish(run, started_ns, None, None)
        # The host puts the node type's default_timeout_ms in the step when the blueprint sets none: 0 means none.
        timeout_ms = step.timeout_ms
        timer = loop.call_later(timeout_ms / 1000, self._on_timeout, run) if timeout_ms else None
        result: _Result | None = None
        failure: pb.Failure | None = None
        try:
            if definition.executor in ("thread", "process"):
                # A timeout fires the token and lets the node return: awaited to its end either way.
                result = await loop.run_in_executor(runtime.threads, self._call_in_thread, run, outputs)
            else:
                arguments = definition.prepare(run, outputs, runtime.codec)
                context_token = CURRENT_STEP.set(run)
                traced = enter_step(step) if step.traceparent else None
                try:
                    if definition.executor == "async" and not definition.generator:
                        run.awaiting_node = True
                        try:
                            value = await definition.function(**arguments)
                        finally:
                            run.awaiting_node = False
                    else:
                        value = definition.function(**arguments)
                finally:
                    leave_step(traced)
                    CURRENT_STEP.reset(context_token)
                result = (definition.split(value, run.step), None)
            if definition.stream_outputs and result is not None:
                await self._pull_streams(run, result[0])
        except asyncio.CancelledError:
            if not run.task_cancelled:
                raise  # not ours: the runtime is shutting down
        except BaseException as error:  # noqa: BLE001 because whatever a node raises becomes a Failure
            failure = failure_from_exception(error)
        finally:
            if timer is not None:
                timer.cancel()
            if run.task_cancelled and self.task is not None:
                self.task.uncancel()
        return self._finish(run, started_ns, result, failure)

    async def _pull_streams(self, run: StepRun, live: dict[str, Any]) -> None:
        """Pulls the step's stream outputs (taken out of ``live``) until every one ended; raises the first failure,
        once the other streams are stopped and their generators closed."""
        definition = run.definition
        runtime = self.runtime
        loop = runtime.loop
        pulls: list[asyncio.Future[None]] = []
        context_token = CURRENT_STEP.set(run)  # copied into the tasks: a generator's logging goes to the step
        try:
            for port in definition.stream_outputs:
                iterator: Iterator[Any] | AsyncIterator[Any] | None = live.pop(port.name, None)
                if iterator is None:
                    continue
                gate = self._gate(run.index, port.name)
                run.stream_gates.append(gate)
                if definition.executor == "thread" and isinstance(iterator, Iterator):
                    pulls.append(loop.run_in_executor(runtime.threads, pump_in_thread, run, port, iterator, gate))
                else:
                    pump = loop.create_task(pump_on_loop(run, port, iterator, gate))
                    run.pumps.append(pump)
                    pulls.append(pump)
        finally:
            CURRENT_STEP.reset(context_token)
        if run.cancel_reason is not None:  # cancelled while the node ran: its streams close at once
            run.stop_streams(run.cancel_reason)
        error: BaseException | None = None
        pending: set[asyncio.Future[None]] = set(pulls)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            for pull in done:
                if error is None and not pull.cancelled() and pull.exception() is not None:
                    error = pull.exception()
                    run.stop_streams("another stream of the step failed")
        if error is not None:
            raise error

    def _finish(
        self, run: StepRun, started_ns: int, result: _Result | None, failure: pb.Failure | None
    ) -> dict[str, Any] | None:
        """Emits the step's one terminal event."""
        run.closed = True
        for stream in run.stream_inputs.values():
            stream.stop("the step ended")
        definition = run.definition
        duration_us = (time.perf_counter_ns() - started_ns) // 1000
        event = self.outbox.add(run.invocation_id, run.index)
        if not run.timed_out and run.cancel_reason is None and failure is None and result is not None:
            live, completed = result
            try:
                if completed is None:  # encoded in place: nothing to copy
                    definition.encode(live, event.completed, self.runtime.codec, run.step)
                else:
                    event.completed.CopyFrom(completed)
                event.completed.duration_us = duration_us
                return live
            except Exception as error:  # noqa: BLE001 because an unencodable output is the node's failure
                failure = failure_from_exception(error)  # setting `failed` below replaces `completed` (a oneof)
        if run.timed_out:
            event.failed.failure.message = f"{definition.label(run.step)} timed out after {run.step.timeout_ms} ms"
            event.failed.failure.type = "timeout"
            event.failed.failure.retryable = True
            event.failed.duration_us = duration_us
        elif run.cancel_reason is not None:
            event.cancelled.reason = run.cancel_reason
        else:
            event.failed.failure.CopyFrom(failure or pb.Failure(message="no result", type="runtime.error"))
            event.failed.duration_us = duration_us
        return None

    def _call_in_thread(self, run: StepRun, outputs: list[dict[str, Any]]) -> _Result:
        """Runs in a pool thread: decode the inputs, call the node, encode its outputs."""
        definition = run.definition
        codec = self.runtime.codec
        context_token = CURRENT_STEP.set(run)
        traced = enter_step(run.step) if run.step.traceparent else None
        try:
            arguments = definition.prepare(run, outputs, codec)
            if definition.executor == "process":
                value = self.runtime.processes().call(run, definition.function, arguments)
            else:
                value = definition.function(**arguments)
            live = definition.split(value, run.step)
            completed = pb.Completed()
            definition.encode(live, completed, codec, run.step)
            return live, completed
        finally:
            leave_step(traced)
            CURRENT_STEP.reset(context_token)
