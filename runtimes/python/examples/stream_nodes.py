"""Example stream nodes: ``py.batches`` produces a table as a stream of Arrow record batches, made one at a time.

Serve them with ``python -m conductor_runtime --path runtimes/python/examples --module stream_nodes``; the
cross-language example ``examples/streaming`` reads its stream with Rust and TypeScript nodes.

pyarrow is named in annotations under TYPE_CHECKING only, so loading this module costs nothing: it loads when the
node first runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

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
    import pyarrow as pa
    import pyarrow.compute

    pc: Any = pyarrow.compute  # pyarrow's stubs leave the array types of these kernels unknown
    record_batch: Any = pa.RecordBatch
    schema = pa.schema([("id", pa.int64()), ("value", pa.float64()), ("label", pa.string())])
    for start in range(0, rows, batchRows):
        ids = pc.add(pa.scalar(start, pa.int64()), pa.array(range(min(batchRows, rows - start)), pa.int64()))
        values = pc.cast(ids, pa.float64())
        labels = pc.binary_join_element_wise(pa.scalar("row-"), pc.cast(ids, pa.string()), "")
        yield record_batch.from_arrays([ids, values, labels], schema=schema)
