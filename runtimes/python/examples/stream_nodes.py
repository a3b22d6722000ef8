"""Example stream nodes: ``py.batches`` produces a table as a stream of Arrow record batches, made one at a time;
``py.table-summary`` describes one table (a collected stream of batches).

Serve them with ``python -m conductor_runtime --path runtimes/python/examples --module stream_nodes``; the
cross-language example ``examples/streaming`` reads its stream with Rust and TypeScript nodes.

pyarrow is named in annotations under TYPE_CHECKING only, so loading this module costs nothing: it loads (with
numpy) when the node first runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, TypedDict

from pydantic import Field

from conductor_runtime import Stream, node

if TYPE_CHECKING:
    import pyarrow as pa


@node("py.batches", output="batches", title="Batches")
def batches(
    rows: Annotated[int, Field(ge=0)],
    batchRows: Annotated[int, Field(ge=1)],  # noqa: N803 because the blueprint names it
) -> Stream[pa.RecordBatch]:
    """Streams ``rows`` rows (``id`` int64 0, 1, …; ``value`` float64 = id; ``label`` utf8 "row-<id>") as record
    batches of ``batchRows`` rows. Each batch is made only when the host has credit for it, so memory holds one
    batch at a time whatever ``rows`` is."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute

    pc: Any = pyarrow.compute  # pyarrow's stubs leave the array types of these kernels unknown
    record_batch: Any = pa.RecordBatch
    schema = pa.schema([("id", pa.int64()), ("value", pa.float64()), ("label", pa.string())])
    for start in range(0, rows, batchRows):
        ids = pa.array(np.arange(start, min(start + batchRows, rows), dtype=np.int64))
        values = pc.cast(ids, pa.float64())
        labels = pc.binary_join_element_wise(pa.scalar("row-"), pc.cast(ids, pa.string()), "")
        yield record_batch.from_arrays([ids, values, labels], schema=schema)


class TableSummary(TypedDict):
    rows: int
    batches: int
    sum: float
    types: dict[str, str]


@node("py.table-summary", title="Table summary", deterministic=True, idempotent=True)
def table_summary(table: pa.Table) -> TableSummary:
    """Rows, record batches, the sum of column ``value`` and the Arrow type of every column of one table: what a
    node given a collected stream of batches (``collect: true``) sees, one table holding them all."""
    import pyarrow.compute

    pc: Any = pyarrow.compute
    schema: Any = table.schema  # pyarrow's stubs leave a field's type unknown
    total = pc.sum(table.column("value")).as_py() if "value" in table.column_names else 0
    return {
        "rows": table.num_rows,
        "batches": len(table.to_batches()),
        "sum": float(total or 0),
        "types": dict(zip(schema.names, map(str, schema.types), strict=True)),
    }
