"""Every kitchen-sink node type of docs/protocol.md, section 5, driven over a real Session stream."""

from __future__ import annotations

import json

import pyarrow as pa

from conductor_runtime.gen.conductor.runtime.v1 import runtime_pb2 as pb
from harness import RuntimeProcess, connect, decode_json, kind, step


def arrow_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def read_arrow(data: bytes) -> pa.Table:
    with pa.ipc.open_stream(pa.py_buffer(data)) as reader:
        return reader.read_all()


def produced_table() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "name": pa.array(["a", None, "c"], pa.string()),
            "score": pa.array([0.5, None, 2.5], pa.float64()),
        }
    )


async def test_echo_returns_each_encoding_unchanged(runtime: RuntimeProcess) -> None:
    big = b'{"big":9007199254740993,"s":"h\xc3\xa9llo \xe2\x9c\x93","f":1.5,"n":null}'
    values = {
        1: pb.Value(json=big),
        2: pb.Value(raw=bytes(range(256))),
        3: pb.Value(arrow=arrow_bytes(produced_table())),
    }
    async with connect(runtime) as client, client.session() as session:
        for invocation_id, value in values.items():
            events = await session.run(invocation_id, step("conformance.echo", inputs={"value": value}))
            assert [kind(event) for event in events] == ["started", "completed"]
            output = events[-1].completed.outputs["value"]
            assert output.WhichOneof("kind") == value.WhichOneof("kind")
            if value.HasField("arrow"):
                assert read_arrow(output.arrow).equals(produced_table(), check_metadata=True)
            elif value.HasField("json"):
                assert json.loads(output.json) == json.loads(big)
                assert json.loads(output.json)["big"] == 9007199254740993
            else:
                assert output.raw == value.raw


async def test_produce_json(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        events = await session.run(1, step("conformance.produce", config={"kind": "json"}))
    assert decode_json(events[-1].completed.outputs["value"]) == {
        "string": "héllo ✓",
        "integer": 42,
        "big": 9007199254740993,
        "float": 1.5,
        "boolean": True,
        "null": None,
        "list": [1, "two", 3.5],
        "nested": {"a": {"b": []}},
    }


async def test_produce_bytes_and_arrow(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        raw = await session.run(1, step("conformance.produce", config={"kind": "bytes"}))
        table = await session.run(2, step("conformance.produce", config={"kind": "arrow"}))
    assert raw[-1].completed.outputs["value"].raw == bytes(range(256))
    produced = read_arrow(table[-1].completed.outputs["value"].arrow)
    assert produced.schema.equals(produced_table().schema)
    assert produced.equals(produced_table())
    assert produced.column("name").null_count == 1


async def test_add_sums_with_offset_and_keeps_integers(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        whole = await session.run(1, step("conformance.add", config={"offset": 10}, inputs={"a": 1, "b": 2}))
        fraction = await session.run(2, step("conformance.add", inputs={"a": 1.5, "b": 2}))
    assert whole[-1].completed.outputs["sum"].json == b"13"
    assert decode_json(fraction[-1].completed.outputs["sum"]) == 3.5


async def test_fail_reports_the_configured_failure(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        events = await session.run(
            1, step("conformance.fail", config={"message": "bad row", "retryable": True, "type": "rows.bad"})
        )
        default = await session.run(2, step("conformance.fail", config={"message": "nope", "retryable": False}))
    assert [kind(event) for event in events] == ["started", "failed"]
    failure = events[-1].failed.failure
    assert (failure.message, failure.type, failure.retryable) == ("bad row", "rows.bad", True)
    assert decode_json(failure.details) == {"code": 7}
    other = default[-1].failed.failure
    assert (other.message, other.type, other.retryable) == ("nope", "conformance.failure", False)


async def test_throw_becomes_a_retryable_failure_with_a_traceback(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        events = await session.run(1, step("conformance.throw", config={"message": "boom"}))
    failure = events[-1].failed.failure
    assert failure.type == "ValueError"
    assert failure.message == "boom"
    assert failure.retryable
    assert failure.stack.startswith("Traceback (most recent call last):")
    assert "conformance.py" in failure.stack
    assert failure.stack.endswith("ValueError: boom")


async def test_cause_chain_and_retry_delay(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        caused = await session.run(1, step("test.raise-with-cause"))
        delayed = await session.run(2, step("test.retry-later"))
    failure = caused[-1].failed.failure
    assert (failure.type, failure.message, failure.retryable) == ("RuntimeError", "lookup failed", True)
    assert failure.cause.type == "KeyError"
    assert failure.cause.message == "'missing'"
    assert "KeyError" in failure.cause.stack
    later = delayed[-1].failed.failure
    assert (later.type, later.retryable, later.retry_delay_ms) == ("http.status", True, 1500)
    assert decode_json(later.details) == {"status": 429}
    assert later.stack  # a NodeFailure keeps its traceback too


async def test_sleep_returns_the_time_slept(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        events = await session.run(1, step("conformance.sleep", config={"ms": 50}))
    slept = decode_json(events[-1].completed.outputs["slept_ms"])
    assert isinstance(slept, int)
    assert slept >= 50


async def test_report_logs_progress_and_chunks_in_order(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        events = await session.run(1, step("conformance.report"))
    assert [kind(event) for event in events] == [
        "started",
        "log",
        "progress",
        "chunk",
        "chunk",
        "chunk",
        "progress",
        "completed",
    ]
    log = events[1].log
    assert (log.level, log.message, json.loads(log.fields_json)) == (
        pb.Log.LEVEL_INFO,
        "hello from python",
        {"n": 1},
    )
    assert (events[2].progress.fraction, events[2].progress.message) == (0.5, "half")
    assert [(event.chunk.port, decode_json(event.chunk.value)) for event in events[3:6]] == [
        ("items", 0),
        ("items", 1),
        ("items", 2),
    ]
    assert (events[6].progress.fraction, events[6].progress.message) == (1.0, "done")
    assert decode_json(events[-1].completed.outputs["done"]) is True


async def test_print_returns_ok(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        events = await session.run(1, step("conformance.print"))
    assert decode_json(events[-1].completed.outputs["ok"]) is True
