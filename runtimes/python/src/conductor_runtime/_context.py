"""What a node sees of its step: ``Context`` (logs, progress, chunks, heartbeats, cancellation, ids)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

from pydantic_core import to_json

from ._stream import StreamResume
from ._values import parse_json
from .gen.conductor.runtime.v1 import runtime_pb2 as pb

if TYPE_CHECKING:
    from ._cancel import CancelToken


class StepIds(Protocol):
    @property
    def node_id(self) -> str: ...
    @property
    def node_type(self) -> str: ...
    @property
    def attempt(self) -> int: ...


class StepSink(Protocol):
    """What a Context needs of its step: the runtime's ``StepRun``, or a process-pool worker's ``WorkerRun``."""

    @property
    def step(self) -> StepIds: ...
    @property
    def execution_id(self) -> str: ...
    @property
    def token(self) -> CancelToken: ...
    def log(self, level: pb.Log.Level.ValueType, message: str, fields_json: bytes) -> None: ...
    def progress(self, fraction: float, message: str) -> None: ...
    def chunk(self, port: str, value: Any) -> None: ...
    def heartbeat(self, details: Any) -> None: ...


CURRENT_STEP: ContextVar[StepSink | None] = ContextVar("conductor_current_step", default=None)
"""The step whose code runs in this thread or task; routes the stdlib ``logging`` of a node to its events."""

_LEVELS = (
    (logging.ERROR, pb.Log.LEVEL_ERROR),
    (logging.WARNING, pb.Log.LEVEL_WARN),
    (logging.INFO, pb.Log.LEVEL_INFO),
)
_STANDARD_RECORD_KEYS = frozenset(
    [*logging.LogRecord("", 0, "", 0, "", (), None).__dict__, "message", "asctime", "taskName"]
)
_FIELDS_KEY = "conductor_fields"


class Context:
    """The step's view of the runtime; declare a parameter annotated ``Context`` to receive it.

    ``ctx.log`` is a ``logging.Logger``-like object whose records become Log events of the step (keyword
    arguments other than logging's own become the event's fields: ``ctx.log.info("rows read", rows=10)``).
    Records of any stdlib logger emitted while the node runs become Log events too.

    A process-pool node (``executor="process"``) gets a Context in its worker process that works the same way: its
    events travel to the runtime over a pipe, and ``cancelled`` reads a flag the runtime sets in shared memory.
    """

    __slots__ = ("_log", "_run")

    def __init__(self, run: StepSink) -> None:
        self._run = run
        self._log: NodeLogger | None = None

    @property
    def node_id(self) -> str:
        """The node's id in the blueprint, e.g. ``"stats"``."""
        return self._run.step.node_id

    @property
    def node_type(self) -> str:
        return self._run.step.node_type

    @property
    def execution_id(self) -> str:
        return self._run.execution_id

    @property
    def attempt(self) -> int:
        """1 for the first attempt, 2 for the first retry, ..."""
        return self._run.step.attempt

    @property
    def resume(self) -> Mapping[str, StreamResume]:
        """For a retry of a producer whose stream failed after a checkpoint (:func:`checkpoint`): where each of its
        stream outputs resumes, by port; empty otherwise (every stream starts from its first item)."""
        entries = getattr(self._run.step, "resume", ())
        if not entries:
            return {}
        return {
            entry.port: StreamResume(
                entry.offset, parse_json(entry.state.json) if entry.state.WhichOneof("kind") == "json" else None
            )
            for entry in entries
        }

    @property
    def cancelled(self) -> CancelToken:
        """Fires on cancel, timeout or session close; see ``CancelToken``."""
        return self._run.token

    @property
    def log(self) -> NodeLogger:
        if self._log is None:
            self._log = NodeLogger(logging.getLogger(f"conductor.node.{self._run.step.node_type}"))
        return self._log

    def progress(self, fraction: float, message: str = "") -> None:
        """Reports progress: ``fraction`` in 0..1, or negative when unknown."""
        self._run.progress(fraction, message)

    def emit(self, port: str, value: object) -> None:
        """Streams a partial output (a Chunk event) on ``port``; any value a port can carry."""
        self._run.chunk(port, value)

    def heartbeat(self, details: object = None) -> None:
        """Tells the host the node is alive; ``details`` is a checkpoint it keeps (JSON data)."""
        self._run.heartbeat(details)


class NodeLogger:
    """``ctx.log``: the methods of a ``logging.Logger``, plus structured fields. Keyword arguments beyond
    logging's own become the Log event's fields: ``ctx.log.info("rows read", rows=10, table="sales")``."""

    __slots__ = ("logger",)

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 because it mirrors logging.Logger
        return self.logger.isEnabledFor(level)

    def log(
        self,
        level: int,
        msg: object,
        /,
        *args: object,
        exc_info: Any = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, object] | None = None,
        **fields: object,
    ) -> None:
        if not self.logger.isEnabledFor(level):
            return
        merged = dict(extra or {})
        if fields:
            merged[_FIELDS_KEY] = fields
        self.logger.log(
            level,
            msg,
            *args,
            exc_info=exc_info,
            stack_info=stack_info,
            stacklevel=stacklevel + 2,
            extra=merged,
        )

    def debug(self, msg: object, /, *args: object, **options: Any) -> None:
        self.log(logging.DEBUG, msg, *args, **options)

    def info(self, msg: object, /, *args: object, **options: Any) -> None:
        self.log(logging.INFO, msg, *args, **options)

    def warning(self, msg: object, /, *args: object, **options: Any) -> None:
        self.log(logging.WARNING, msg, *args, **options)

    def error(self, msg: object, /, *args: object, **options: Any) -> None:
        self.log(logging.ERROR, msg, *args, **options)

    def exception(self, msg: object, /, *args: object, **options: Any) -> None:
        options.setdefault("exc_info", True)
        self.log(logging.ERROR, msg, *args, **options)

    def critical(self, msg: object, /, *args: object, **options: Any) -> None:
        self.log(logging.CRITICAL, msg, *args, **options)


class StepLogHandler(logging.Handler):
    """Turns records logged while a node runs into Log events; other records go to stderr."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._stderr = logging.StreamHandler(sys.stderr)
        self._stderr.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        run = CURRENT_STEP.get()
        if run is None:
            self._stderr.handle(record)
            return
        try:
            message = record.getMessage()
            if record.exc_info:
                message = f"{message}\n{logging.Formatter().formatException(record.exc_info)}"
            run.log(_level(record.levelno), message, _fields(record))
        except Exception:  # noqa: BLE001 because logging must never break the node
            self.handleError(record)


def install_log_bridge() -> None:
    """Routes the stdlib logging of nodes to Log events: one handler on the root logger, level INFO."""
    root = logging.getLogger()
    if not any(isinstance(handler, StepLogHandler) for handler in root.handlers):
        root.addHandler(StepLogHandler())
    if root.level == logging.WARNING:
        root.setLevel(logging.INFO)
    logging.getLogger("conductor.node").setLevel(logging.DEBUG)


def _level(levelno: int) -> pb.Log.Level.ValueType:
    for threshold, level in _LEVELS:
        if levelno >= threshold:
            return level
    return pb.Log.LEVEL_DEBUG


def _fields(record: logging.LogRecord) -> bytes:
    attributes = record.__dict__
    fields: dict[str, Any] = {
        key: value for key, value in attributes.items() if key not in _STANDARD_RECORD_KEYS and key != _FIELDS_KEY
    }
    own = attributes.get(_FIELDS_KEY)
    if isinstance(own, Mapping):
        fields.update(own)  # pyright: ignore[reportUnknownArgumentType]
    return to_json(fields, inf_nan_mode="null", fallback=repr) if fields else b""
