"""The data plane: one Session stream, its Execute and Cancel commands, and the events written back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, cast

import grpc

from ._invocation import Invocation
from ._outbox import Outbox
from .gen.conductor.runtime.v1 import runtime_pb2 as pb

if TYPE_CHECKING:
    from ._node import NodeDefinition
    from ._runtime import Runtime

SESSION_CLOSED = "session closed"
logger = logging.getLogger("conductor.runtime")
# How long a closing session waits for its cancelled nodes to return before it ends the stream anyway.
_CLOSE_GRACE_S = 5.0


class Session:
    """Serves one Session stream. Reads with ``context.read()`` and writes through an Outbox task, because a
    grpc.aio stream handler learns of a cancelled call only through ``context.add_done_callback``."""

    def __init__(self, runtime: Runtime, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        self.runtime = runtime
        self.context = context
        self.outbox = Outbox(runtime.loop)
        self.invocations: dict[int, Invocation] = {}
        self._all_done: asyncio.Future[None] | None = None
        self._early_credits: list[pb.Credit] = []
        """Credits that came before their Execute in the same request (kept for that request only)."""

    async def serve(self) -> None:
        loop = self.runtime.loop
        context = self.context
        writer = loop.create_task(self.outbox.run(context))

        # The only way a grpc.aio stream handler learns that the call was cancelled or the connection dropped.
        def closed(_: object) -> None:
            self.close(SESSION_CLOSED)

        context.add_done_callback(cast("Any", closed))
        try:
            while True:
                request = await context.read()
                if request is grpc.aio.EOF or writer.done():
                    break
                assert isinstance(request, pb.SessionRequest)
                self.outbox.hold()
                self._early_credits.clear()
                for command in request.commands:
                    self.handle(command)
                try:
                    await self.outbox.flush(context)
                except Exception:  # noqa: BLE001 because a failed write means the stream is gone: stop reading
                    break
        finally:
            self.close(SESSION_CLOSED)
            if self.invocations:
                self._all_done = loop.create_future()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._all_done), _CLOSE_GRACE_S)
            self.outbox.close()
            try:
                await asyncio.wait_for(writer, _CLOSE_GRACE_S)
            except Exception:  # noqa: BLE001 because the stream may be gone already; nothing is left to tell
                writer.cancel()

    def handle(self, command: pb.Command) -> None:
        """Carries out one command; a bug in the runtime rejects that invocation instead of ending the session."""
        kind = command.WhichOneof("kind")
        try:
            if kind == "execute":
                self.execute(command.execute)
            elif kind == "cancel":
                self.cancel(command.cancel)
            elif kind == "credit":
                self.credit(command.credit)
            elif kind == "stream_items":
                invocation = self.invocations.get(command.stream_items.invocation_id)
                if invocation is not None:
                    invocation.stream_items(command.stream_items)
        except Exception as error:  # one bad command must not take the others down
            logger.exception("conductor-runtime: %s command failed", kind)
            if kind == "execute" and command.execute.invocation_id not in self.invocations:
                self.reject(
                    command.execute.invocation_id, f"the runtime failed to start it: {error!r}", "runtime.error"
                )

    def execute(self, execute: pb.Execute) -> None:
        """Starts an invocation, or rejects it when it cannot start (docs/protocol.md, section 3.1)."""
        invocation_id = execute.invocation_id
        runtime = self.runtime
        catalog = runtime.catalog
        definitions: list[NodeDefinition] = []
        steps = execute.steps
        if not steps:
            self.reject(invocation_id, f"invocation {invocation_id} has no steps", "step.invalid")
            return
        if invocation_id in self.invocations:
            self.reject(
                invocation_id,
                f"invocation {invocation_id} is already running in this session",
                "step.invalid",
            )
            return
        for index, step in enumerate(steps):
            definition = catalog.get(step.node_type)
            if definition is None:
                served = ", ".join(sorted(catalog.definitions)) or "none"
                self.reject(
                    invocation_id,
                    f'unknown node type "{step.node_type}" (step {index}, node "{step.node_id}"); '
                    f"this runtime serves: {served}",
                    "node-type.unknown",
                )
                return
            for name, given in step.inputs.items():
                if given.HasField("step_output"):
                    problem = _reference_problem(given.step_output, index, definitions)
                    if problem is not None:
                        self.reject(
                            invocation_id,
                            f'step {index} (node "{step.node_id}") input "{name}" {problem}',
                            "step.invalid",
                        )
                        return
            definitions.append(definition)
        busy = runtime.busy_reason()
        if busy is not None:
            self.reject(invocation_id, busy, "runtime.busy", retryable=True)
            return
        invocation = Invocation(runtime, self.outbox, execute, definitions, self._finished)
        self.invocations[invocation_id] = invocation
        for credit in self._early_credits:
            if credit.invocation_id == invocation_id:
                invocation.credit(credit)
        runtime.started()
        if invocation.runs_inline():
            invocation.run_inline()
        else:
            invocation.task = runtime.loop.create_task(invocation.run())

    def cancel(self, cancel: pb.Cancel) -> None:
        invocation = self.invocations.get(cancel.invocation_id)
        if invocation is not None:
            invocation.cancel(cancel.reason or "cancelled", cancel.grace_ms)

    def credit(self, credit: pb.Credit) -> None:
        """More credits for a stream output. Those naming an invocation that has ended are dropped; those that
        precede their Execute in the same request wait for it."""
        invocation = self.invocations.get(credit.invocation_id)
        if invocation is not None:
            invocation.credit(credit)
        else:
            self._early_credits.append(credit)

    def close(self, reason: str) -> None:
        """Cancels every invocation of the session (the stream closed or the connection dropped)."""
        for invocation in list(self.invocations.values()):
            invocation.cancel(reason)

    def reject(self, invocation_id: int, message: str, kind: str, *, retryable: bool = False) -> None:
        failure = self.outbox.add(invocation_id, 0).rejected.failure
        failure.message = message
        failure.type = kind
        failure.retryable = retryable

    def _finished(self, invocation: Invocation) -> None:
        self.invocations.pop(invocation.execute.invocation_id, None)
        self.runtime.finished()
        if not self.invocations and self._all_done is not None and not self._all_done.done():
            self._all_done.set_result(None)


def _reference_problem(reference: pb.StepOutput, index: int, earlier: list[NodeDefinition]) -> str | None:
    if reference.step >= index:
        return f"takes the output of step {reference.step}, which does not run before it"
    producer = earlier[reference.step]
    if any(port.name == reference.port for port in producer.stream_outputs):
        return (
            f'takes the stream output "{reference.port}" of step {reference.step} ({producer.type}), which a later '
            "step of the same invocation cannot read; a stream input is given as a stream source"
        )
    if reference.port not in producer.output_names:
        ports = ", ".join(sorted(producer.output_names)) or "none"
        return (
            f'takes output "{reference.port}" of step {reference.step} ({producer.type}), which has no such '
            f"output; its outputs are: {ports}"
        )
    return None
