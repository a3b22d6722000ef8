"""What is particular to Python in the kitchen sink: integers stay integers, tracebacks and exception chains. What every
runtime must do with these node types is checked by the conformance kit (test/conformance/conformance-kit.test.ts)."""

from __future__ import annotations

import pyarrow as pa

from harness import RuntimeProcess, connect, decode_json, step


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


async def test_add_sums_with_offset_and_keeps_integers(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        whole = await session.run(1, step("conformance.add", config={"offset": 10}, inputs={"a": 1, "b": 2}))
        fraction = await session.run(2, step("conformance.add", inputs={"a": 1.5, "b": 2}))
    assert whole[-1].completed.outputs["sum"].json == b"13"
    assert decode_json(fraction[-1].completed.outputs["sum"]) == 3.5


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
