"""Node types used by the tests only (loaded with ``--path tests/nodes --module nodes_for_tests``).

Table libraries are imported under TYPE_CHECKING only, as a node module should when it wants a fast cold start;
``test.modules-loaded`` proves the runtime itself imported none of them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypedDict

from pydantic import BaseModel

from conductor_runtime import Context, NodeFailure, node

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import polars as pl
    import pyarrow as pa

logger = logging.getLogger(__name__)


@node("test.modules-loaded", output="loaded", executor="inline")
def modules_loaded() -> list[str]:
    """Which heavy libraries this process has imported so far."""
    return sorted(name for name in ("pandas", "polars", "pyarrow", "numpy") if name in sys.modules)


class SleepConfig(BaseModel):
    ms: int
    marker: str = ""


@node("test.async-sleep", output="slept", cancellable=True)
async def async_sleep(*, config: SleepConfig) -> bool:
    """Sleeps on the event loop; writes ``marker`` when the cancellation reaches it."""
    try:
        await asyncio.sleep(config.ms / 1000)
    except asyncio.CancelledError:
        if config.marker:
            Path(config.marker).write_text("cancelled")  # noqa: ASYNC240 because a tiny file in a test
        raise
    return True


@node("test.await-token", output="reason", cancellable=True)
async def await_token(*, ctx: Context) -> str:
    """Waits for the cancellation token itself, shielded from task cancellation."""
    return await asyncio.shield(asyncio.ensure_future(_wait(ctx)))


async def _wait(ctx: Context) -> str:
    return await ctx.cancelled


@node("test.thread-sleep", output="noticed", cancellable=True)
def thread_sleep(*, config: SleepConfig, ctx: Context) -> bool:
    """Sleeps in a worker thread until cancelled; writes ``marker`` when it notices."""
    noticed = ctx.cancelled.wait(config.ms / 1000)
    if noticed and config.marker:
        Path(config.marker).write_text(ctx.cancelled.reason or "")
    return noticed


@node("test.thread-tidy", output="tidied", cancellable=True)
def thread_tidy(*, ctx: Context) -> bool:
    """Waits in a worker thread for its token, then takes a while to clean up, logging before and after."""
    ctx.cancelled.wait(20)
    ctx.log.info("cleaning up")
    time.sleep(0.1)
    ctx.log.info("cleaned up")
    return True


@node("test.raise-with-cause")
def raise_with_cause() -> None:
    try:
        {}["missing"]
    except KeyError as error:
        raise RuntimeError("lookup failed") from error


@node("test.retry-later")
def retry_later() -> None:
    raise NodeFailure("rate limited", retryable=True, type="http.status", details={"status": 429}, retry_delay=1.5)


@node("test.print-everywhere", output="ok")
def print_everywhere() -> bool:
    print("noise from print")  # noqa: T201
    sys.stdout.write("noise from sys.stdout\n")
    os.write(1, b"noise from fd 1\n")
    return True


@node("test.stdlib-logging", output="ok", executor="inline")
def stdlib_logging() -> bool:
    logger.warning("from the stdlib logger %s", "x", extra={"rows": 3})
    return True


@node("test.context", output="seen")
async def context_node(*, ctx: Context) -> dict[str, Any]:
    ctx.heartbeat({"offset": 5})
    ctx.log.debug("debugging", level="deep")
    return {"node_id": ctx.node_id, "execution_id": ctx.execution_id, "attempt": ctx.attempt}


class Pair(BaseModel):
    total: int
    label: str


@node("test.model-output", deterministic=True, executor="inline")
def model_output(x: int, y: int = 10) -> Pair:
    return Pair(total=x + y, label=f"{x}+{y}")


class Halves(TypedDict):
    low: int
    high: int
    note: NotRequired[str]


@node("test.typeddict-output", executor="inline")
def typeddict_output(x: int) -> Halves:
    return {"low": x // 2, "high": x - x // 2}


@dataclass
class Stats:
    count: int
    table: pa.Table


@node("test.dataclass-output")
def dataclass_output(table: pa.Table) -> Stats:
    return Stats(count=table.num_rows, table=table)


@node("test.pandas-identity")
def pandas_identity(table: pd.DataFrame) -> pd.DataFrame:
    return table


@node("test.pandas-dtypes", output="dtypes")
def pandas_dtypes(table: pd.DataFrame) -> dict[str, str]:
    return {str(name): str(dtype) for name, dtype in table.dtypes.items()}


@node("test.polars-identity")
def polars_identity(table: pl.DataFrame) -> pl.DataFrame:
    return table


@node("test.polars-schema", output="schema")
def polars_schema(table: pl.DataFrame) -> dict[str, str]:
    return {name: str(dtype) for name, dtype in table.schema.items()}


@node("test.arrow-identity")
def arrow_identity(table: pa.Table) -> pa.Table:
    return table


@node("test.numpy-sum", output="sum")
def numpy_sum(values: np.ndarray) -> float:
    return float(values.sum())


@node("test.numpy-range", output="values")
def numpy_range(n: int) -> np.ndarray:
    import numpy as np

    return np.arange(n, dtype="int64")


@node("test.optional-table", output="rows")
def optional_table(table: pd.DataFrame | None = None) -> int:
    return -1 if table is None else len(table)


@node("test.bytes-length", output="length", executor="inline")
def bytes_length(data: bytes) -> int:
    return len(data)


@node("test.process-pid", output="pid", executor="process")
def process_pid(x: int) -> int:
    return os.getpid() if x >= 0 else 0


@node("test.process-report", executor="process", streaming=True)
def process_report(*, ctx: Context) -> dict[str, Any]:
    """A process-pool node using its Context: every kind of event, the ids, and stdout noise."""
    ctx.log.info("hello from the worker", n=1)
    logger.warning("stdlib %s in the worker", "logging", extra={"rows": 3})
    ctx.progress(0.5, "half")
    ctx.emit("items", [1, 2])
    ctx.heartbeat({"offset": 5})
    print("noise from a process node")  # noqa: T201
    os.write(1, b"noise from fd 1 of a process node\n")
    return {
        "node_id": ctx.node_id,
        "node_type": ctx.node_type,
        "execution_id": ctx.execution_id,
        "attempt": ctx.attempt,
        "pid": os.getpid(),
        "cancelled": ctx.cancelled.is_set(),
    }


class SpinConfig(BaseModel):
    marker: str
    mode: Literal["is_set", "wait", "ignore"] = "is_set"


@node("test.process-spin", output="spins", executor="process", cancellable=True)
def process_spin(*, config: SpinConfig, ctx: Context) -> int:
    """Burns CPU in a process-pool worker. Writes ``<pid>`` to the marker when it starts and
    ``<pid> <reason>`` when it notices the cancel; with mode ``ignore`` it never looks and never stops."""
    marker = Path(config.marker)
    marker.write_text(f"{os.getpid()}")
    spins = 0
    while True:
        spins += sum(range(1000)) > 0
        if config.mode == "is_set" and ctx.cancelled.is_set():
            break
        if config.mode == "wait" and ctx.cancelled.wait(0.001):
            break
    marker.write_text(f"{os.getpid()} {ctx.cancelled.reason}")
    return spins


@node("test.process-sleep", output="slept", executor="process")
def process_sleep(*, config: SleepConfig) -> bool:
    """Sleeps in a process-pool worker without a Context; writes its pid to the marker when it starts."""
    if config.marker:
        Path(config.marker).write_text(f"{os.getpid()}")
    time.sleep(config.ms / 1000)
    return True


@node("test.runtime-pid", output="pid", executor="inline")
def runtime_pid() -> int:
    return os.getpid()


class NestedConfig(BaseModel):
    class Headers(BaseModel):
        accept: str

    headers: Headers
    items: list[int] = []


@node("test.nested-config", output="ok", executor="inline")
def nested_config(*, config: NestedConfig) -> bool:
    return bool(config.headers.accept)


@node("test.missing-output", executor="inline")
def missing_output(x: int) -> Halves:
    return {"low": x} if x < 0 else {"low": x, "high": x}  # type: ignore[typeddict-item]  # pyright: ignore[reportReturnType]


@node("test.unencodable", output="value", executor="inline")
def unencodable() -> Any:
    return object()


@node("test.wrong-output-type", output="data")
def wrong_output_type() -> bytes:
    return "not bytes"  # type: ignore[return-value]  # pyright: ignore[reportReturnType]
