"""Stream node types used by the tests only (loaded with ``--module stream_nodes_for_tests``): generators pulled in
a thread and on the event loop, readers of stream inputs, items of the wrong type."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, TypedDict

from conductor_runtime import AsyncStream, Context, NodeFailure, Stream, checkpoint, node

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    import pyarrow as pa


@node("test.stream-sync", output="items")
def stream_sync(n: int, ctx: Context) -> Stream[int]:
    """Yields 0 … n-1 from a sync generator (pulled in a pool thread), logging each item before it yields it and
    ``closed`` when the generator ends or is closed."""
    produced = 0
    try:
        for item in range(n):
            ctx.log.info("producing", item=item)
            produced += 1
            yield item
    finally:
        ctx.log.info("closed", produced=produced)


@node("test.stream-async", output="items")
async def stream_async(n: int, ctx: Context, pause_after: int = -1) -> AsyncStream[int]:
    """Yields 0 … n-1 from an async generator; after ``pause_after`` items it awaits forever (until cancelled).
    Logs ``closed`` from its finally block."""
    produced = 0
    try:
        for item in range(n):
            if item == pause_after:
                await asyncio.sleep(3600)
            await asyncio.sleep(0)
            produced += 1
            yield item
    finally:
        ctx.log.info("closed", produced=produced)


class Two(TypedDict):
    evens: Stream[int]
    odds: AsyncStream[int]
    label: str


@node("test.stream-two")
async def stream_two(n: int) -> Two:
    """Two stream outputs from one async node: a sync generator and an async one, plus a plain output."""

    def evens() -> Iterator[int]:
        yield from range(0, n, 2)

    async def odds() -> AsyncIterator[int]:
        for item in range(1, n, 2):
            yield item

    return {"evens": evens(), "odds": odds(), "label": f"0..{n - 1}"}


@node("test.stream-list", output="items", executor="inline")
def stream_list(n: int) -> Stream[str]:
    """A list given for a stream output: its elements are the items."""
    return [f"item-{index}" for index in range(n)]  # type: ignore[return-value]  # the runtime iterates any iterable


@node("test.stream-wrong-item", output="items")
def stream_wrong_item() -> Stream[int]:
    """Yields 0, 1, then a string on a stream of integers."""
    yield 0
    yield 1
    yield "two"  # type: ignore[misc]  # pyright: ignore[reportReturnType]  # on purpose: the runtime must refuse it


@node("test.stream-not-a-stream", output="items", executor="inline")
def stream_not_a_stream() -> Stream[int]:
    """Returns a number for a stream output."""
    return 5  # type: ignore[return-value]  # pyright: ignore[reportReturnType]  # on purpose


class Read(TypedDict):
    items: list[Any]


@node("test.read-sync")
def read_sync(items: Stream[Any], ctx: Context) -> Read:
    """Reads a stream input in a worker thread to its end; logs each item as it takes it."""
    seen: list[Any] = []
    for item in items:
        ctx.log.info("took", item=item)
        seen.append(item)
    return {"items": seen}


@node("test.read-async")
async def read_async(items: AsyncStream[int], limit: int = -1) -> Read:
    """Reads a stream input with async for, stopping after ``limit`` items when it is not -1."""
    seen: list[int] = []
    async for item in items:
        seen.append(item)
        if len(seen) == limit:
            break
    return {"items": seen}


@node("test.double-async", output="items")
async def double_async(items: AsyncStream[int]) -> AsyncStream[int]:
    """Stream in, stream out, on the event loop: each item doubled."""
    async for item in items:
        yield item * 2


class TableTypes(TypedDict):
    rows: int
    batches: int
    types: dict[str, str]


@node("test.batch-types")
def batch_types(batches: Stream[pa.RecordBatch]) -> TableTypes:
    """Reads a stream of record batches: the rows, the batches and each column's Arrow type."""
    rows = 0
    count = 0
    types: dict[str, str] = {}
    for given in batches:
        batch: Any = given  # pyarrow's stubs leave column types unknown
        count += 1
        rows += batch.num_rows
        types = {name: str(batch.column(name).type) for name in batch.schema.names}
    return {"rows": rows, "batches": count, "types": types}


@node("test.emit-on-stream", output="items", executor="inline")
def emit_on_stream(ctx: Context) -> Stream[int]:
    """Tries to send an item of its stream output with ctx.emit, around the credits."""
    ctx.emit("items", 1)
    return iter([])


@node("test.relay", output="items")
def relay(items: Stream[int], ctx: Context) -> Stream[int]:
    """Stream in, stream out in a worker thread: passes each item on; logs ``closed`` from its finally block."""
    relayed = 0
    try:
        for item in items:
            relayed += 1
            yield item
    finally:
        ctx.log.info("closed", relayed=relayed)


@node("test.frames", output="frames")
def frames(frames: Stream[pd.DataFrame]) -> Stream[pl.DataFrame]:
    """Reads each item as a pandas DataFrame and yields it as a polars DataFrame with a column ``doubled`` added."""
    import polars

    for frame in frames:
        frame["doubled"] = frame["n"] * 2
        yield polars.from_pandas(frame)


@node("test.read-blocking-on-loop", output="items")
async def read_blocking_on_loop(items: AsyncStream[int]) -> Stream[int]:
    """Wrongly reads its async stream input with a blocking for loop, in a sync generator pulled on the event loop."""
    blocking: Any = items

    def relay() -> Iterator[int]:
        yield from blocking

    return relay()


def _trace_id() -> str:
    from opentelemetry import trace

    return format(trace.get_current_span().get_span_context().trace_id, "032x")


@node("test.stream-trace", output="ids")
def stream_trace() -> Stream[str]:
    """Yields the trace id current in the generator's code, twice (pulled in a worker thread)."""
    for _ in range(2):
        yield _trace_id()


@node("test.stream-trace-async", output="ids")
async def stream_trace_async() -> AsyncStream[str]:
    """Yields the trace id current in the async generator's code, twice (pulled on the event loop)."""
    for _ in range(2):
        await asyncio.sleep(0)
        yield _trace_id()


@node("test.stream-checkpointed", output="items")
def stream_checkpointed(n: int, ctx: Context, every: int = 10, fail_at: list[int] | None = None) -> Stream[int]:
    """Yields 0 … n-1 from a sync generator with a checkpoint after every ``every`` items (its state: the next
    item); a retry starts from ``ctx.resume["items"]``. Attempt k fails before item ``fail_at[k-1]``. Logs
    ``starts`` with where it starts."""
    resume = ctx.resume.get("items")
    start = int(resume.state) if resume is not None else 0
    ctx.log.info("starts", attempt=ctx.attempt, at=start, offset=resume.offset if resume is not None else None)
    failures = fail_at or []
    for item in range(start, n):
        if ctx.attempt <= len(failures) and failures[ctx.attempt - 1] == item:
            raise NodeFailure(f"boom at {item}", type="test.boom", retryable=True)
        yield item
        if (item + 1) % every == 0:
            yield checkpoint(item + 1)


@node("test.stream-checkpointed-async", output="items")
async def stream_checkpointed_async(n: int, ctx: Context, every: int = 10) -> AsyncStream[int]:
    """``test.stream-checkpointed`` as an async generator, without failures."""
    resume = ctx.resume.get("items")
    for item in range(int(resume.state) if resume is not None else 0, n):
        yield item
        if (item + 1) % every == 0:
            yield checkpoint(item + 1)
