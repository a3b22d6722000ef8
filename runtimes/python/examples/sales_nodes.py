"""Example nodes of the project demo: read a sales CSV, aggregate it, and a trivial node for chain benchmarks.

Serve them with ``python -m conductor_runtime --path runtimes/python/examples --module sales_nodes``.

pandas and polars are imported inside the nodes and named in annotations under TYPE_CHECKING only, so loading
this module costs nothing: the libraries load when a node that uses them first runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, TypedDict

from pydantic import BaseModel, Field

from conductor_runtime import Context, NodeFailure, node

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl


class ReadCsvConfig(BaseModel):
    path: str = Field(description="Path of the CSV file to read.")


@node("py.read-csv", output="table", title="Read CSV", idempotent=True)
def read_csv(*, config: ReadCsvConfig, ctx: Context) -> pl.DataFrame:
    """Reads a CSV file (header row, types inferred) into a table."""
    import polars as pl

    try:
        table = pl.read_csv(config.path, try_parse_dates=True)
    except FileNotFoundError as error:
        raise NodeFailure(
            f"no CSV file at {config.path}", type="file.missing", details={"path": config.path}
        ) from error
    ctx.log.info("read csv", path=config.path, rows=table.height, columns=table.width)
    return table


class AggregateConfig(BaseModel):
    by: str = Field(description="Column to group by.")
    sum: list[str] = Field(default=[], description="Numeric columns to sum per group.")


class AggregateOutput(TypedDict):
    table: pd.DataFrame
    """One row per group, sorted by the group column: the sums and a ``rows`` count."""


@node("py.aggregate", title="Aggregate", deterministic=True, idempotent=True)
def aggregate(table: pd.DataFrame, *, config: AggregateConfig) -> AggregateOutput:
    """Groups the table by one column, sums the given columns and counts the rows of each group."""
    missing = [column for column in [config.by, *config.sum] if column not in table.columns]
    if missing:
        raise NodeFailure(
            f"the table has no column {quoted(missing)}; its columns are {quoted(table.columns)}",
            type="column.missing",
            details={"missing": missing},
        )
    sums = {column: (column, "sum") for column in config.sum}
    grouped = table.groupby(config.by, sort=True).agg(**sums, rows=(config.by, "size")).reset_index()
    return {"table": grouped}


def quoted(names: Iterable[object]) -> str:
    return ", ".join(f'"{name}"' for name in names)


@node("py.add-one", output="x", deterministic=True, idempotent=True, executor="inline")
def add_one(x: int) -> int:
    """``x + 1``; runs inline on the event loop because it returns in a microsecond."""
    return x + 1
