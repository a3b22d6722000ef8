"""Process-pool nodes (``executor="process"``): the call runs in a spawned worker process, with a Context there.

How the runtime and its workers talk, besides the pool's own call and result queues (one *generation* of the
pool, created on first use and replaced when it breaks):

- shared memory, one *slot* per process step in flight (the runtime allocates it for the call):
  ``flags`` (a byte the runtime sets when the step is cancelled: a Cancel, its timeout or the session closing),
  ``reasons`` (the cancel reason) and ``pids`` (the worker running the call: 0 before it starts, -1 once the node
  returned). The worker's ``ctx.cancelled`` reads its flag, so the token fires in the worker as soon as the runtime
  fires the step's token.
- an event pipe from every worker to the runtime, written under a lock: ``ctx.log``, stdlib ``logging``,
  ``ctx.progress``, ``ctx.emit`` and ``ctx.heartbeat`` in the worker become messages that a runtime thread turns
  into the step's events; a last ``end`` message tells the runtime that every event of the call has arrived.

Cancellation that ends the work: when a process step is cancelled and its node has not returned ``kill_after_s``
seconds later (half the Cancel's ``grace_ms``, or ``KILL_AFTER_S``, 1 s, for a timeout or a closed session), the
runtime retires the generation (the next call starts a fresh pool) and kills the worker with SIGKILL. A killed worker
breaks a ``ProcessPoolExecutor``: every other call of that pool ends with it. One that had not started yet is sent
to the fresh pool; one that had started fails with a retryable Failure of type ``process.lost``.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Generator
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import TYPE_CHECKING, Any

from ._cancel import CancelToken
from ._context import CURRENT_STEP, Context, install_log_bridge
from ._failure import StepError

if TYPE_CHECKING:
    from multiprocessing.synchronize import Lock

    from ._step import StepRun
    from .gen.conductor.runtime.v1 import runtime_pb2 as pb

_REASON_BYTES = 256
_POLL_S = 0.005
_WATCH_S = 0.01
_END_WAIT_S = 5.0
_RESUBMISSIONS = 3
_LOST = "process.lost"

logger = logging.getLogger("conductor.runtime")


# ---------------------------------------------------------------------------------------------- in the worker


@dataclass(frozen=True, slots=True)
class WorkerIds:
    """What a worker knows of its step (``ctx.node_id`` and friends)."""

    node_id: str
    node_type: str
    attempt: int
    execution_id: str


@dataclass(slots=True)
class _Worker:
    writer: Connection
    lock: Lock
    flags: ctypes.Array[ctypes.c_byte]
    reasons: ctypes.Array[ctypes.c_char]
    pids: ctypes.Array[ctypes.c_int64]

    def send(self, message: tuple[Any, ...]) -> None:
        payload = ForkingPickler.dumps(message)  # before taking the lock: an unpicklable value fails the caller
        with self.lock:
            self.writer.send_bytes(payload)


_worker: _Worker | None = None


def exit_with_parent(parent_pid: int) -> None:
    """Runs in each process-pool worker: exits it when the runtime is gone, even if it crashed or was killed."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="conductor-parent-watch", daemon=True).start()


def worker_init(
    parent_pid: int,
    writer: Connection,
    lock: Lock,
    flags: ctypes.Array[ctypes.c_byte],
    reasons: ctypes.Array[ctypes.c_char],
    pids: ctypes.Array[ctypes.c_int64],
) -> None:
    """The pool's initializer: keeps the shared state, watches the runtime, routes stdlib logging to the step."""
    global _worker  # noqa: PLW0603 because a pool initializer can only leave its state in the worker's module
    _worker = _Worker(writer, lock, flags, reasons, pids)
    exit_with_parent(parent_pid)
    install_log_bridge()


class _NotRun(Exception):  # noqa: N818 because it is no error: the step was cancelled before its node started
    """Raised in the worker instead of calling a node whose step was cancelled before the call started."""


def call_in_worker(
    slot: int,
    call_id: int,
    function: Callable[..., Any],
    arguments: dict[str, Any],
    context_parameter: str | None,
    ids: WorkerIds,
) -> Any:
    """Runs in a worker: calls the node with a Context of its own, then tells the runtime the call's events ended."""
    worker = _worker
    if worker is None:
        raise RuntimeError("the process pool was started without its initializer")
    worker.pids[slot] = os.getpid()
    run = WorkerRun(worker, slot, call_id, ids)
    context_token = CURRENT_STEP.set(run)
    try:
        if worker.flags[slot]:
            raise _NotRun
        if context_parameter is not None:
            arguments[context_parameter] = Context(run)
        return function(**arguments)
    finally:
        CURRENT_STEP.reset(context_token)
        run.close()
        worker.pids[slot] = -1
        worker.send((slot, call_id, "end"))


class WorkerRun:
    """The worker's side of a step: what ``Context`` needs, sending the events to the runtime."""

    __slots__ = ("_call_id", "_slot", "_token", "_worker", "step")

    def __init__(self, worker: _Worker, slot: int, call_id: int, ids: WorkerIds) -> None:
        self._worker = worker
        self._slot = slot
        self._call_id = call_id
        self._token: ProcessCancelToken | None = None
        self.step = ids

    @property
    def execution_id(self) -> str:
        return self.step.execution_id

    @property
    def token(self) -> CancelToken:
        if self._token is None:
            self._token = ProcessCancelToken(self._worker.flags, self._worker.reasons, self._slot)
        return self._token

    def log(self, level: pb.Log.Level.ValueType, message: str, fields_json: bytes) -> None:
        self._send("log", level, message, fields_json)

    def progress(self, fraction: float, message: str) -> None:
        self._send("progress", fraction, message)

    def chunk(self, port: str, value: Any) -> None:
        self._send("chunk", port, value)

    def heartbeat(self, details: Any) -> None:
        self._send("heartbeat", details)

    def close(self) -> None:
        if self._token is not None:
            self._token.close()

    def _send(self, kind: str, *payload: Any) -> None:
        self._worker.send((self._slot, self._call_id, kind, *payload))


class ProcessCancelToken(CancelToken):
    """``ctx.cancelled`` in a worker: the same API as in the runtime, fed by the step's flag in shared memory.

    ``is_set()`` reads the flag (a memory read); ``wait()`` polls it every few milliseconds; callbacks and
    ``await`` start a thread that polls it until the token fires or the call ends.
    """

    __slots__ = ("_closed", "_flags", "_reasons", "_slot", "_watcher")

    def __init__(self, flags: ctypes.Array[ctypes.c_byte], reasons: ctypes.Array[ctypes.c_char], slot: int) -> None:
        super().__init__(None)
        self._flags = flags
        self._reasons = reasons
        self._slot = slot
        self._closed = False
        self._watcher: threading.Thread | None = None

    def is_set(self) -> bool:
        if self._reason is None and self._flags[self._slot]:
            self._fire(read_reason(self._reasons, self._slot))
        return self._reason is not None

    @property
    def reason(self) -> str | None:
        self.is_set()
        return self._reason

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            pause = _POLL_S if deadline is None else min(_POLL_S, deadline - time.monotonic())
            if pause <= 0:
                return False
            self._event.wait(pause)
        return True

    def add_callback(self, callback: Callable[[str], Any]) -> None:
        self._watch()
        super().add_callback(callback)

    def __await__(self) -> Generator[Any, None, str]:
        self._watch()
        return super().__await__()

    def close(self) -> None:
        """The call ended: stops the watcher thread."""
        self._closed = True

    def _watch(self) -> None:
        with self._lock:
            if self._watcher is not None:
                return
            self._watcher = threading.Thread(target=self._poll, name="conductor-cancel-watch", daemon=True)
        self._watcher.start()

    def _poll(self) -> None:
        while not self._closed and not self.is_set():
            time.sleep(_WATCH_S)


def read_reason(reasons: ctypes.Array[ctypes.c_char], slot: int) -> str:
    raw = bytes(reasons[slot * _REASON_BYTES : (slot + 1) * _REASON_BYTES])
    return raw.rstrip(b"\0").decode(errors="replace") or "cancelled"


# ---------------------------------------------------------------------------------------------- in the runtime


class ProcessCall:
    """One call of a process node, from the runtime's side; ``StepRun.fire`` cancels it."""

    __slots__ = ("_cancelled", "call_id", "ended", "future", "generation", "run", "slot", "terminated")

    def __init__(self, generation: _Generation, slot: int, call_id: int, run: StepRun) -> None:
        self.generation = generation
        self.slot = slot
        self.call_id = call_id
        self.run = run
        self.ended = threading.Event()
        self.terminated = False
        self.future: Future[Any] | None = None
        self._cancelled = False

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self, reason: str, kill_after_s: float) -> None:
        """Sets the step's flag for the worker's token; kills the worker if the node runs on past the grace."""
        if self._cancelled:
            return
        self._cancelled = True
        self.generation.set_flag(self.slot, reason)
        future = self.future
        if future is not None:
            future.cancel()  # still queued in the pool: it never starts, and the step ends at once
        timer = threading.Timer(kill_after_s, self.terminate)
        timer.daemon = True
        timer.start()

    def terminate(self) -> None:
        """Kills the worker if it still runs this call (it then breaks its pool, which is retired first)."""
        generation = self.generation
        pid = generation.running_pid(self)
        if pid <= 0:  # not started (it will see its flag and not run the node), or returned already
            return
        # (Should the node return between this read and the kill, and its worker start another call, that call
        # fails as process.lost: retryable, and only in a window of microseconds.)
        self.terminated = True
        generation.pool.retire(generation)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))  # Windows has no SIGKILL
        logger.warning(
            "conductor-runtime: %s did not stop within its grace after it was cancelled; its worker process %d "
            "was killed",
            self.run.definition.label(self.run.step),
            pid,
        )


class _Generation:
    """A ProcessPoolExecutor with its shared slots and event pipe; retired (never reused) once it breaks."""

    def __init__(self, pool: ProcessPool, capacity: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pool = pool
        self.flags = context.RawArray(ctypes.c_byte, capacity)
        self.reasons = context.RawArray(ctypes.c_char, capacity * _REASON_BYTES)
        self.pids = context.RawArray(ctypes.c_int64, capacity)
        self.reader, self.writer = context.Pipe(duplex=False)
        self.executor = ProcessPoolExecutor(
            mp_context=context,
            initializer=worker_init,
            initargs=(os.getpid(), self.writer, context.Lock(), self.flags, self.reasons, self.pids),
        )
        self.free = list(range(capacity - 1, -1, -1))
        self.calls: dict[int, ProcessCall] = {}
        self.lock = threading.Lock()
        self.retired = False
        self.thread = threading.Thread(target=self._drain, name="conductor-process-events", daemon=True)
        self.thread.start()

    def begin(self, run: StepRun) -> ProcessCall:
        with self.lock:
            if not self.free:
                raise StepError(
                    f"{run.definition.label(run.step)}: no process slot is free; the runtime runs more process "
                    "steps than it has threads",
                    "runtime.busy",
                    retryable=True,
                )
            slot = self.free.pop()
            self.flags[slot] = 0
            self.pids[slot] = 0
            call = self.calls[slot] = ProcessCall(self, slot, next(_call_ids), run)
        return call

    def end(self, call: ProcessCall) -> None:
        with self.lock:
            if self.calls.get(call.slot) is call:
                del self.calls[call.slot]
                self.free.append(call.slot)

    def running_pid(self, call: ProcessCall) -> int:
        """The pid of the worker running ``call``; 0 or less when none does (yet, or any more)."""
        with self.lock:
            if call.ended.is_set() or self.calls.get(call.slot) is not call:
                return 0
            return self.pids[call.slot]

    def set_flag(self, slot: int, reason: str) -> None:
        encoded = reason.encode()[:_REASON_BYTES].ljust(_REASON_BYTES, b"\0")
        self.reasons[slot * _REASON_BYTES : (slot + 1) * _REASON_BYTES] = encoded
        self.flags[slot] = 1

    def retire(self) -> None:
        """Stops taking calls; the event thread reads what is left and ends when every worker is gone."""
        self.retired = True
        self.writer.close()  # the runtime's copy: the pipe reports end-of-file once the workers are dead
        self.executor.shutdown(wait=False)

    def kill_workers(self) -> None:
        workers = self.executor._processes or {}  # pyright: ignore[reportPrivateUsage]  # noqa: SLF001 because 3.11 has no terminate_workers()
        for worker in list(workers.values()):
            worker.kill()

    def _drain(self) -> None:
        """The event thread: turns the workers' messages into step events."""
        reader = self.reader
        try:
            while True:
                if not reader.poll(0.5):
                    if self.retired:
                        break
                    continue
                self._dispatch(reader.recv())
        except (EOFError, OSError):
            pass
        finally:
            reader.close()

    def _dispatch(self, message: tuple[Any, ...]) -> None:
        slot, call_id, kind, *payload = message
        with self.lock:
            call = self.calls.get(slot)
        if call is None or call.call_id != call_id:
            return  # a late event of a call the runtime gave up on
        run = call.run
        try:
            if kind == "end":
                call.ended.set()
            elif kind == "log":
                run.log(*payload)
            elif kind == "progress":
                run.progress(*payload)
            elif kind == "chunk":
                run.chunk(*payload)
            elif kind == "heartbeat":
                run.heartbeat(*payload)
        except Exception as error:  # noqa: BLE001 because one bad event must not stop the events of every step
            from .gen.conductor.runtime.v1 import runtime_pb2 as pb

            run.log(pb.Log.LEVEL_ERROR, f"the node's {kind} event could not be sent: {error!r}", b"")


_call_ids = itertools.count(1)


class ProcessPool:
    """The process pool of ``executor="process"`` nodes, replaced by a fresh one whenever it breaks."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._current: _Generation | None = None
        self._retired: list[_Generation] = []

    def _generation(self) -> _Generation:
        """The pool's current generation, started on first use. Workers are spawned, not forked, because forking a
        process that runs gRPC threads is unsafe; they import the node's module."""
        with self._lock:
            if self._current is None:
                self._current = _Generation(self, self._capacity)
            return self._current

    def retire(self, generation: _Generation) -> None:
        with self._lock:
            if generation.retired:
                return
            if self._current is generation:
                self._current = None
            self._retired = [old for old in self._retired if old.thread.is_alive()]
            self._retired.append(generation)
            generation.retire()

    def call(self, run: StepRun, function: Callable[..., Any], arguments: dict[str, Any]) -> Any:
        """Runs the node in a worker and returns its value (in a runtime thread, which it blocks)."""
        step = run.step
        definition = run.definition
        ids = WorkerIds(step.node_id, step.node_type, step.attempt, run.execution_id)
        for _ in range(_RESUBMISSIONS):
            generation = self._generation()
            call = generation.begin(run)
            try:
                run.process_call = call
                if run.cancel_reason is not None:  # cancelled while its inputs were decoded
                    call.cancel(run.cancel_reason, run.kill_after_s)
                try:
                    future = call.future = generation.executor.submit(
                        call_in_worker, call.slot, call.call_id, function, arguments, definition.context_parameter, ids
                    )
                    if call.cancelled:  # cancelled while it was submitted
                        future.cancel()
                    value = future.result()
                except BaseException as error:
                    if isinstance(error, _NotRun):
                        return None  # cancelled before it started: the step is reported cancelled (or timed out)
                    if not isinstance(error, BrokenProcessPool | CancelledError) and not generation.retired:
                        raise  # the node's own exception
                    if isinstance(error, BrokenProcessPool):
                        self.retire(generation)
                    if run.cancel_reason is not None:
                        return None  # cancelled, or killed after its grace: reported cancelled (or timed out)
                    if generation.pids[call.slot] == -1:
                        raise  # the node had returned; whatever it raised is its own
                    if generation.pids[call.slot] == 0:
                        continue  # never started: run it in the fresh pool
                    raise StepError(
                        f"{definition.label(step)}: its worker process ended before the node returned (another "
                        "process node's worker was killed after a cancel, or a worker crashed); running it again "
                        "may succeed",
                        _LOST,
                        retryable=True,
                    ) from error
                call.ended.wait(_END_WAIT_S)  # every event the node sent before it returned
                return value
            finally:
                run.process_call = None
                generation.end(call)
        raise StepError(
            f"{definition.label(step)}: the process pool broke {_RESUBMISSIONS} times before the node could start",
            _LOST,
            retryable=True,
        )

    def close(self) -> None:
        """Kills every worker (the runtime exits with os._exit, which would orphan them)."""
        with self._lock:
            generations = [*self._retired, *([self._current] if self._current is not None else [])]
            self._current = None
        for generation in generations:
            generation.kill_workers()
            if not generation.retired:
                generation.retire()
