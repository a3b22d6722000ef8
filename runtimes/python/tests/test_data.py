"""Tables, arrays, bytes and blobs crossing the ABI: types survive, large values travel as blobs both ways."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from conductor_runtime.gen.conductor.runtime.v1 import runtime_pb2 as pb
from harness import RuntimeProcess, connect, decode_json, kind, ref, step

Spawn = Callable[..., RuntimeProcess]


def arrow_value(table: pa.Table) -> pb.Value:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return pb.Value(arrow=sink.getvalue().to_pybytes())


def read_arrow(value: pb.Value) -> pa.Table:
    assert value.WhichOneof("kind") == "arrow", value
    with pa.ipc.open_stream(pa.py_buffer(value.arrow)) as reader:
        return reader.read_all()


def typed_table() -> pa.Table:
    """Types that lossy conversions get wrong: nullable ints and bools, timestamps with a unit and a time zone."""
    moment = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
    return pa.table(
        {
            "id": pa.array([1, None, 3], pa.int64()),
            "small": pa.array([7, 8, None], pa.int32()),
            "flag": pa.array([True, None, False], pa.bool_()),
            "name": pa.array(["a", None, "c"], pa.string()),
            "score": pa.array([0.5, None, 2.5], pa.float64()),
            "at": pa.array([moment, None, moment], pa.timestamp("us", tz="Europe/Paris")),
            "ms": pa.array([1, 2, None], pa.timestamp("ms")),
        }
    )


@pytest.mark.parametrize("node_type", ["test.arrow-identity", "test.pandas-identity", "test.polars-identity"])
async def test_tables_keep_their_types_through_each_library(runtime: RuntimeProcess, node_type: str) -> None:
    table = typed_table()
    async with connect(runtime) as client, client.session() as session:
        events = await session.run(1, step(node_type, inputs={"table": arrow_value(table)}))
    assert kind(events[-1]) == "completed", events[-1]
    result = read_arrow(events[-1].completed.outputs["result"])
    assert result.schema.remove_metadata().equals(table.schema), result.schema
    assert result.to_pylist() == table.to_pylist()


async def test_pandas_sees_nullable_integers_and_zoned_timestamps(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        events = await session.run(1, step("test.pandas-dtypes", inputs={"table": arrow_value(typed_table())}))
    dtypes = decode_json(events[-1].completed.outputs["dtypes"])
    assert dtypes["id"] == "Int64"
    assert dtypes["small"] == "Int32"
    assert dtypes["flag"] == "boolean"
    assert dtypes["at"] == "datetime64[us, Europe/Paris]"
    assert dtypes["ms"] == "datetime64[ms]"


async def test_polars_sees_its_native_types(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        events = await session.run(1, step("test.polars-schema", inputs={"table": arrow_value(typed_table())}))
    schema = decode_json(events[-1].completed.outputs["schema"])
    assert schema["id"] == "Int64"
    assert schema["at"] == "Datetime(time_unit='us', time_zone='Europe/Paris')"


async def test_numpy_arrays_travel_as_one_column_tables(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        produced = await session.run(1, step("test.numpy-range", inputs={"n": 5}))
        summed = await session.run(
            2,
            step("test.numpy-range", inputs={"n": 5}),
            step("test.numpy-sum", inputs={"values": ref(0, "values")}),
        )
        raw = await session.run(3, step("test.numpy-sum", inputs={"values": pb.Value(raw=bytes([1, 2, 3]))}))
    table = read_arrow(produced[-1].completed.outputs["values"])
    assert table.column_names == ["values"]
    assert table.column("values").type == pa.int64()
    assert table.column("values").to_pylist() == [0, 1, 2, 3, 4]
    assert decode_json(summed[-1].completed.outputs["sum"]) == 10.0
    assert decode_json(raw[-1].completed.outputs["sum"]) == 6.0


async def test_tables_pass_between_libraries_in_memory(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        events = await session.run(
            1,
            step("test.polars-identity", inputs={"table": arrow_value(typed_table())}),
            step("test.pandas-dtypes", inputs={"table": ref(0, "result")}),
        )
    assert decode_json(events[-1].completed.outputs["dtypes"])["id"] == "Int64"


async def test_optional_table_input(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        absent = await session.run(1, step("test.optional-table"))
        given = await session.run(2, step("test.optional-table", inputs={"table": arrow_value(typed_table())}))
    assert decode_json(absent[-1].completed.outputs["rows"]) == -1
    assert decode_json(given[-1].completed.outputs["rows"]) == 3


async def test_dataclass_output_with_a_table_field(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        events = await session.run(1, step("test.dataclass-output", inputs={"table": arrow_value(typed_table())}))
    outputs = events[-1].completed.outputs
    assert decode_json(outputs["count"]) == 3
    assert read_arrow(outputs["table"]).num_rows == 3


# ---------------------------------------------------------------- blobs


@pytest.fixture
def small_inline_runtime(spawn: Spawn) -> RuntimeProcess:
    return spawn(environment={"CONDUCTOR_INLINE_LIMIT": "1024"})


async def test_large_output_travels_as_a_blob(small_inline_runtime: RuntimeProcess) -> None:
    runtime = small_inline_runtime
    async with connect(runtime) as client, client.session() as session:
        events = await session.run(1, step("conformance.produce", config={"kind": "large", "size": 5000}))
    value = events[-1].completed.outputs["value"]
    assert value.WhichOneof("kind") == "blob"
    blob = value.blob
    expected = bytes(index % 251 for index in range(5000))
    digest = hashlib.sha256(expected).hexdigest()
    assert (blob.size, blob.sha256, blob.encoding) == (5000, digest, pb.BlobRef.ENCODING_RAW)
    assert blob.uri == (runtime.blob_dir / digest).as_uri()
    assert (runtime.blob_dir / digest).read_bytes() == expected
    assert not [path for path in runtime.blob_dir.iterdir() if path.name.endswith(".tmp")]


async def test_blob_inputs_are_read_and_large_outputs_written_back(
    small_inline_runtime: RuntimeProcess,
) -> None:
    runtime = small_inline_runtime
    data = json.dumps({"rows": list(range(1000))}).encode()
    digest = hashlib.sha256(data).hexdigest()
    path = runtime.directory / "incoming"
    path.write_bytes(data)
    blob = pb.BlobRef(uri=path.as_uri(), size=len(data), sha256=digest, encoding=pb.BlobRef.ENCODING_JSON)
    small = pb.BlobRef(uri=path.as_uri(), size=len(data), sha256=digest, encoding=pb.BlobRef.ENCODING_RAW)
    async with connect(runtime) as client, client.session() as session:
        echoed = await session.run(1, step("conformance.echo", inputs={"value": pb.Value(blob=blob)}))
        length = await session.run(2, step("test.bytes-length", inputs={"data": pb.Value(blob=small)}))
    value = echoed[-1].completed.outputs["value"]
    assert value.WhichOneof("kind") == "blob"
    assert value.blob.encoding == pb.BlobRef.ENCODING_JSON
    assert json.loads((runtime.blob_dir / value.blob.sha256).read_bytes()) == {"rows": list(range(1000))}
    assert decode_json(length[-1].completed.outputs["length"]) == len(data)


async def test_arrow_blobs_both_ways(small_inline_runtime: RuntimeProcess) -> None:
    runtime = small_inline_runtime
    table = pa.table({"n": pa.array(range(2000), pa.int64())})
    data = arrow_value(table).arrow
    path = runtime.directory / "table"
    path.write_bytes(data)
    blob = pb.BlobRef(
        uri=path.as_uri(),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        encoding=pb.BlobRef.ENCODING_ARROW,
    )
    async with connect(runtime) as client, client.session() as session:
        events = await session.run(1, step("test.pandas-identity", inputs={"table": pb.Value(blob=blob)}))
    value = events[-1].completed.outputs["result"]
    assert value.blob.encoding == pb.BlobRef.ENCODING_ARROW
    stored = runtime.blob_dir / value.blob.sha256
    assert stored.stat().st_size == value.blob.size
    with pa.ipc.open_stream(pa.py_buffer(stored.read_bytes())) as reader:
        assert reader.read_all().column("n").to_pylist() == list(range(2000))


async def test_blob_with_the_wrong_size_is_corrupt(small_inline_runtime: RuntimeProcess) -> None:
    runtime = small_inline_runtime
    path = runtime.directory / "short"
    path.write_bytes(b"abc")
    wrong = pb.BlobRef(uri=path.as_uri(), size=10, sha256="0" * 64, encoding=pb.BlobRef.ENCODING_RAW)
    missing = pb.BlobRef(uri=(runtime.directory / "gone").as_uri(), size=3, encoding=pb.BlobRef.ENCODING_RAW)
    async with connect(runtime) as client, client.session() as session:
        short = await session.run(1, step("conformance.echo", inputs={"value": pb.Value(blob=wrong)}))
        gone = await session.run(2, step("conformance.echo", inputs={"value": pb.Value(blob=missing)}))
    for events in (short, gone):
        failure = events[-1].failed.failure
        assert (failure.type, failure.retryable) == ("blob.corrupt", False)
    assert "has 3 bytes, its reference says 10" in short[-1].failed.failure.message
