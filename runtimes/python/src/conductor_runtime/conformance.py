"""The conformance "kitchen sink" node types (docs/protocol.md, section 5), identical in every runtime.

Serve them with ``python -m conductor_runtime --module conductor_runtime.conformance``; ``test/conformance``
runs one list of scenarios against every runtime that does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn, TypedDict

from pydantic import BaseModel, Field, WithJsonSchema

from ._context import Context
from ._failure import NodeFailure
from ._node import node
from ._stream import Stream, checkpoint

if TYPE_CHECKING:
    import pyarrow as pa

Number = Annotated[int | float, WithJsonSchema({"type": "number"})]
"""A JSON number that stays an integer when it is one (``1 + 2`` answers ``3``, not ``3.0``)."""

OptionalCount = Annotated[int | None, WithJsonSchema({"type": "integer", "minimum": 0}), Field(ge=0)]
"""An optional integer ≥ 0 whose schema says just that (the node's default stands for "not given")."""

PRODUCED_JSON: dict[str, Any] = {
    "string": "héllo ✓",
    "integer": 42,
    "big": 9007199254740993,
    "float": 1.5,
    "boolean": True,
    "null": None,
    "list": [1, "two", 3.5],
    "nested": {"a": {"b": []}},
}


@node("conformance.echo", output="value", title="Echo")
def echo(value: Any) -> Any:
    """Returns the input value unchanged, whatever its encoding."""
    return value


class ProduceConfig(BaseModel):
    kind: Literal["json", "bytes", "arrow", "large"]
    size: int = Field(default=0, ge=0, description="Bytes produced by kind 'large'.")


@node("conformance.produce", output="value", title="Produce")
def produce(*, config: ProduceConfig) -> Any:
    """Produces a fixed value of the configured encoding."""
    if config.kind == "json":
        return PRODUCED_JSON
    if config.kind == "bytes":
        return bytes(range(256))
    if config.kind == "large":
        pattern = bytes(range(251))
        return (pattern * (config.size // 251 + 1))[: config.size]
    import pyarrow as pa

    return pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "name": pa.array(["a", None, "c"], pa.string()),
            "score": pa.array([0.5, None, 2.5], pa.float64()),
        }
    )


class AddConfig(BaseModel):
    offset: Number = 0


@node("conformance.add", output="sum", title="Add", idempotent=True, deterministic=True, executor="inline")
def add(a: Number, b: Number, *, config: AddConfig) -> Number:
    """``a + b + offset``."""
    return a + b + config.offset


class FailConfig(BaseModel):
    message: str
    retryable: bool
    type: str = "conformance.failure"


@node("conformance.fail", title="Fail")
def fail(*, config: FailConfig) -> NoReturn:
    """Fails with the configured message, retryable flag and type, and details ``{"code": 7}``."""
    raise NodeFailure(config.message, retryable=config.retryable, type=config.type, details={"code": 7})


class ThrowConfig(BaseModel):
    message: str


@node("conformance.throw", title="Throw")
def throw(*, config: ThrowConfig) -> NoReturn:
    """Raises Python's ordinary error, ValueError."""
    raise ValueError(config.message)


class SleepConfig(BaseModel):
    ms: int = Field(ge=0)


@node("conformance.sleep", output="slept_ms", title="Sleep", cancellable=True)
def sleep(*, config: SleepConfig, ctx: Context) -> int:
    """Sleeps ``ms`` milliseconds in a worker thread, returning at once when cancelled; returns ``ms``."""
    ctx.cancelled.wait(config.ms / 1000)
    return config.ms


@node("conformance.report", output="done", title="Report", streaming=True)
def report(*, ctx: Context) -> bool:
    """Logs, reports progress and streams chunks on port ``items``."""
    ctx.log.info("hello from python", n=1)
    ctx.progress(0.5, "half")
    for item in range(3):
        ctx.emit("items", item)
    ctx.progress(1.0, "done")
    return True


@node("conformance.crash", title="Crash")
def crash() -> NoReturn:
    """Exits the process at once with status 3, without any cleanup."""
    os._exit(3)


@node("conformance.print", output="ok", title="Print")
def print_noise() -> bool:
    """Writes ``noise`` to stdout and stderr: stdout noise must not corrupt the protocol."""
    print("noise")  # noqa: T201 because writing to stdout is the point of this node
    print("noise", file=sys.stderr)  # noqa: T201
    return True


# ---------------------------------------------------------------- streams (docs/protocol.md, section 3.5)


class Counted(TypedDict):
    items: Stream[int]
    total: int


OptionalEvery = Annotated[int | None, WithJsonSchema({"type": "integer", "minimum": 1}), Field(ge=1)]


@node("conformance.count", title="Count", executor="inline")
def count(
    n: Annotated[int, Field(ge=0)],
    ctx: Context,
    failAt: OptionalCount = None,  # noqa: N803 because the ABI names it
    checkpointEvery: OptionalEvery = None,  # noqa: N803 because the ABI names it
) -> Counted:
    """Streams the integers 0 … n-1 on ``items`` (lazily, one per credit) and returns ``total`` = n; with
    ``failAt`` < n, fails after ``failAt`` items; with ``checkpointEvery``, marks a checkpoint after every that many
    items (its state: the items so far), and a retry given ``ctx.resume["items"]`` starts at its state."""
    resume = ctx.resume.get("items")

    def items() -> Iterator[int]:
        for item in range(int(resume.state) if resume is not None else 0, n):
            if item == failAt:
                raise NodeFailure(f"failed after {failAt} items", type="conformance.stream-failed")
            yield item
            if checkpointEvery is not None and (item + 1) % checkpointEvery == 0:
                yield checkpoint(item + 1)

    return {"items": items(), "total": n}


class Summed(TypedDict):
    sum: int
    count: int


@node("conformance.sum", title="Sum")
def sum_items(items: Stream[int], limit: OptionalCount = None) -> Summed:
    """Adds the items of a stream until it ends, or until it has read ``limit`` of them (then stops reading)."""
    total = 0
    read = 0
    if limit != 0:
        for item in items:
            total += item
            read += 1
            if read == limit:
                break
    return {"sum": total, "count": read}


@node("conformance.scale", output="batches", title="Scale")
def scale(batches: Stream[pa.RecordBatch], factor: float) -> Stream[pa.RecordBatch]:
    """Multiplies every float64 column of each record batch by ``factor``, one batch in, one batch out."""
    import pyarrow as pa
    import pyarrow.compute

    pc: Any = pyarrow.compute  # pyarrow's stubs leave the array types of these kernels unknown
    by = pa.scalar(factor, pa.float64())
    for given in batches:
        batch: Any = given
        columns = [column if column.type != pa.float64() else pc.multiply(column, by) for column in batch.columns]
        yield batch.from_arrays(columns, schema=batch.schema)
