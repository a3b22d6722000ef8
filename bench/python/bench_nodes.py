"""Python nodes for the benchmarks: a trivial node for dispatch and chains, and big tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from conductor_runtime import node

if TYPE_CHECKING:
    import pyarrow as pa


@node("bench.py-increment", output="x", deterministic=True, executor="inline")
def increment(x: int) -> int:
    """``x + 1``, as cheap as a node gets."""
    return x + 1


class MakeTableConfig(BaseModel):
    rows: int
    columns: int


@node("bench.py-make-table", output="table")
def make_table(*, config: MakeTableConfig) -> pa.Table:
    """A table of ``rows`` × ``columns``: int64 and float64 columns in turn."""
    import numpy as np
    import pyarrow as pa

    data = {}
    for index in range(config.columns):
        values = np.arange(config.rows, dtype=np.int64) + index
        data[f"c{index}"] = values if index % 2 == 0 else values.astype(np.float64) / 2
    return pa.table(data)


@node("bench.py-table-sum", output="sum")
def table_sum(table: pa.Table) -> float:
    """The sum of every column, to check the table arrived whole."""
    import pyarrow.compute as pc

    return float(sum(pc.sum(column).as_py() for column in table.columns))
