"""Node failures: the exception nodes raise on purpose, and the mapping of any exception to the ABI's Failure."""

from __future__ import annotations

import traceback
from datetime import timedelta
from typing import Any

from pydantic_core import to_json

from .gen.conductor.runtime.v1 import runtime_pb2 as pb

_MAX_CAUSE_DEPTH = 8


class NodeFailure(Exception):  # noqa: N818 because the name is the one every Conductor SDK uses
    """Raise from a node to fail it with a Failure you describe.

    Use it for failures you expect (a bad row, an HTTP 404): the host reports ``message`` and ``type`` as given
    and retries only when ``retryable`` is true. Any other exception a node raises becomes a retryable failure
    typed by its class name, because an unexpected error may be transient.

    Args:
        message: what went wrong, for people.
        retryable: whether running the node again may succeed.
        type: a short classifier, e.g. ``"http.status"``; defaults to ``"node.failure"``.
        details: JSON-serializable data for programs (a status code, the offending row).
        retry_delay: the delay the node suggests before the next attempt, in seconds or as a timedelta.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        type: str = "node.failure",  # noqa: A002 because every Conductor SDK names it type
        details: Any = None,
        retry_delay: float | timedelta | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.type = type
        self.details = details
        self.retry_delay = retry_delay.total_seconds() if isinstance(retry_delay, timedelta) else retry_delay


class StepError(Exception):
    """A failure of the runtime's own making (invalid input or config, a corrupt blob), carried as a Failure."""

    def __init__(self, message: str, type: str, *, retryable: bool = False) -> None:  # noqa: A002
        super().__init__(message)
        self.failure = pb.Failure(message=message, type=type, retryable=retryable)


def failure_from_exception(error: BaseException, depth: int = 0) -> pb.Failure:
    """Converts anything a node raised into the ABI's Failure (docs/protocol.md, section 3.3)."""
    if isinstance(error, StepError):
        return error.failure
    failure = pb.Failure()
    if isinstance(error, NodeFailure):
        failure.message = error.message
        failure.type = error.type or "node.failure"
        failure.retryable = error.retryable
        if error.details is not None:
            failure.details.json = _details_json(error.details)
        if error.retry_delay is not None and error.retry_delay > 0:
            failure.retry_delay_ms = round(error.retry_delay * 1000)
    else:
        failure.type = type(error).__name__
        failure.message = str(error) or failure.type
        failure.retryable = True
    failure.stack = "".join(traceback.format_exception(error, chain=False)).rstrip()
    cause = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    if cause is not None and depth < _MAX_CAUSE_DEPTH:
        failure.cause.CopyFrom(failure_from_exception(cause, depth + 1))
    elif isinstance(upstream := getattr(error, "upstream", None), pb.Failure):
        failure.cause.CopyFrom(upstream)  # a stream input's producer failed: its own failure, type and all
    return failure


def _details_json(details: Any) -> bytes:
    try:
        return to_json(details, inf_nan_mode="null", fallback=repr)
    except Exception:  # noqa: BLE001 because bad details must not turn a failure into a crash
        return to_json(repr(details))
