"""Stream ports over the Session (docs/protocol.md, section 3.5): stream outputs sent as chunks within credits,
stream inputs fed by StreamItems under the credits the runtime grants, cancellation and failures mid-stream, and
Arrow record batches keeping their types."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from conductor_runtime.gen.conductor.runtime.v1 import runtime_pb2 as pb
from harness import RuntimeProcess, SessionClient, connect, decode_json, json_value, kind, step

STREAM_MODULES = ["conductor_runtime.conformance", "stream_nodes_for_tests", "stream_nodes"]


@pytest.fixture(scope="module")
def runtime() -> Iterator[RuntimeProcess]:
    process = RuntimeProcess(modules=STREAM_MODULES).start()
    yield process
    process.stop()


def stream_in(node_id: str = "p", port: str = "items") -> pb.Input:
    return pb.Input(stream=pb.StreamSource(node_id=node_id, port=port))


def chunk_values(events: list[pb.Event], port: str = "items") -> list[Any]:
    return [decode_json(event.chunk.value) for event in events if kind(event) == "chunk" and event.chunk.port == port]


def logs(events: list[pb.Event], message: str) -> list[dict[str, Any]]:
    return [
        json.loads(event.log.fields_json) for event in events if kind(event) == "log" and event.log.message == message
    ]


def arrow_value(batch: pa.RecordBatch) -> pb.Value:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_table(pa.Table.from_batches([batch]))
    return pb.Value(arrow=sink.getvalue().to_pybytes())


def read_batch(value: pb.Value) -> pa.RecordBatch:
    assert value.WhichOneof("kind") == "arrow", value
    with pa.ipc.open_stream(pa.py_buffer(value.arrow)) as reader:
        return reader.read_all().combine_chunks().to_batches()[0]


async def feed(
    session: SessionClient, invocation_id: int, port: str, items: list[pb.Value], *, end: bool = True
) -> int:
    """Acts as the host forwarding a stream input: sends items only within the credits granted so far, and the
    end after the last. Returns how many items it sent."""
    sent = 0
    while sent < len(items):
        await session.wait_until(lambda: session.granted(invocation_id, 0, port) > sent)  # noqa: B023 because it is awaited at once
        room = session.granted(invocation_id, 0, port) - sent
        batch = items[sent : sent + room]
        await session.send_items(invocation_id, 0, port, batch)
        sent += len(batch)
    if end:
        await session.send_items(invocation_id, 0, port, end=True)
    return sent


# ---------------------------------------------------------------- discovery


async def test_stream_ports_are_announced_with_their_item_schema(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client:
        listing = await client.stub.ListNodeTypes(pb.ListNodeTypesRequest(), metadata=client.metadata)
        handshake = await client.stub.Handshake(pb.HandshakeRequest(abi_versions=[1]), metadata=client.metadata)
    types = {node_type.type: node_type for node_type in listing.node_types}
    count = types["conformance.count"]
    assert [(port.name, port.stream, json.loads(port.schema)["type"]) for port in count.outputs] == [
        ("items", True, "integer"),
        ("total", False, "integer"),
    ]
    scale = types["conformance.scale"]
    item = json.loads(scale.inputs[0].schema)
    assert (scale.inputs[0].stream, item["x-conductor-encoding"]) == (True, "arrow")
    assert (scale.outputs[0].name, scale.outputs[0].stream) == ("batches", True)
    assert [port.stream for port in types["conformance.sum"].inputs] == [True, False]
    assert "stream.credits" in handshake.features


# ---------------------------------------------------------------- stream outputs


async def test_count_streams_its_items_in_order_then_completes_without_the_stream(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [step("conformance.count", inputs={"n": 5})], credits={(0, "items"): 64})
        events = await session.finished(1)
    assert [kind(event) for event in events] == ["started", *["chunk"] * 5, "completed"]
    assert chunk_values(events) == [0, 1, 2, 3, 4]
    assert {name: decode_json(value) for name, value in events[-1].completed.outputs.items()} == {"total": 5}


async def test_credits_that_come_before_their_execute_in_the_same_request_count(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        await session.execute(
            1, [step("conformance.count", inputs={"n": 3})], credits={(0, "items"): 8}, credits_first=True
        )
        events = await session.finished(1)
    assert chunk_values(events) == [0, 1, 2]


@pytest.mark.parametrize("node_type", ["test.stream-sync", "test.stream-async"])
async def test_the_generator_is_held_when_its_credits_are_used_up(runtime: RuntimeProcess, node_type: str) -> None:
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [step(node_type, inputs={"n": 10})], credits={(0, "items"): 4})
        await session.wait_until(lambda: len(session.of_kind(1, "chunk")) == 4)
        await session.settle()
        held = list(session.events[1])
        await session.credit(1, 0, "items", 6)
        await session.wait_until(lambda: len(session.of_kind(1, "chunk")) == 10)
        await session.settle()
        waiting = list(session.events[1])
        await session.credit(1, 0, "items", 1)  # the credit that lets the generator find its end
        events = await session.finished(1)
    assert chunk_values(held) == [0, 1, 2, 3]
    assert kind(held[-1]) == "chunk"  # no terminal event: the step waits for credit
    if node_type == "test.stream-sync":
        assert [fields["item"] for fields in logs(held, "producing")] == [0, 1, 2, 3]  # the generator did not run on
    assert chunk_values(waiting) == list(range(10))
    assert kind(waiting[-1]) != "completed"
    assert chunk_values(events) == list(range(10))
    assert logs(events, "closed") == [{"produced": 10}]
    assert kind(events[-1]) == "completed"


def checkpoints(events: list[pb.Event], port: str = "items") -> list[tuple[int, Any]]:
    """Each checkpoint as (the items sent before it, its state)."""
    marks: list[tuple[int, Any]] = []
    items = 0
    for event in events:
        if kind(event) == "chunk" and event.chunk.port == port:
            items += 1
        elif kind(event) == "checkpoint" and event.checkpoint.port == port:
            marks.append((items, decode_json(event.checkpoint.state)))
    return marks


@pytest.mark.parametrize("node_type", ["test.stream-checkpointed", "test.stream-checkpointed-async"])
async def test_a_checkpoint_is_sent_between_items_and_costs_no_credit(runtime: RuntimeProcess, node_type: str) -> None:
    async with connect(runtime) as client, client.session() as session:
        # Exactly one credit per item and one to find the end: a checkpoint taking a credit would stall the step.
        await session.execute(1, [step(node_type, inputs={"n": 9}, config=None)], credits={(0, "items"): 10})
        events = await session.finished(1)
    assert chunk_values(events) == list(range(9))
    assert checkpoints(events) == []  # every 10 items: none in 9
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [step(node_type, inputs={"n": 25, "every": 5})], credits={(0, "items"): 26})
        events = await session.finished(1)
    assert chunk_values(events) == list(range(25))
    assert checkpoints(events) == [(5, 5), (10, 10), (15, 15), (20, 20), (25, 25)]
    assert kind(events[-1]) == "completed"


async def test_a_retried_producer_resumes_from_the_step_resume_it_is_given(runtime: RuntimeProcess) -> None:
    retry = step("test.stream-checkpointed", inputs={"n": 30, "every": 10}, attempt=2)
    retry.resume.add(port="items", offset=20, state=json_value(20))
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [retry], credits={(0, "items"): 64})
        events = await session.finished(1)
    assert logs(events, "starts") == [{"attempt": 2, "at": 20, "offset": 20}]
    assert chunk_values(events) == list(range(20, 30))
    assert checkpoints(events) == [(10, 30)]


async def test_a_producer_failing_after_a_checkpoint_fails_retryable_after_its_items(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        await session.execute(
            1,
            [step("test.stream-checkpointed", inputs={"n": 30, "every": 10, "fail_at": [17]})],
            credits={(0, "items"): 64},
        )
        events = await session.finished(1)
    assert chunk_values(events) == list(range(17))
    assert checkpoints(events) == [(10, 10)]
    assert kind(events[-1]) == "failed"
    assert (events[-1].failed.failure.type, events[-1].failed.failure.retryable) == ("test.boom", True)


async def test_an_async_node_streams_two_outputs_and_a_plain_one(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        await session.execute(
            1, [step("test.stream-two", inputs={"n": 7})], credits={(0, "evens"): 64, (0, "odds"): 64}
        )
        events = await session.finished(1)
    assert chunk_values(events, "evens") == [0, 2, 4, 6]
    assert chunk_values(events, "odds") == [1, 3, 5]
    assert {name: decode_json(value) for name, value in events[-1].completed.outputs.items()} == {"label": "0..6"}


async def test_any_iterable_given_for_a_stream_output_is_streamed(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [step("test.stream-list", inputs={"n": 3})], credits={(0, "items"): 64})
        events = await session.finished(1)
    assert chunk_values(events) == ["item-0", "item-1", "item-2"]


@pytest.mark.parametrize(("node_type", "pause_after"), [("test.stream-sync", None), ("test.stream-async", 3)])
async def test_cancel_mid_stream_closes_the_generator_so_its_finally_runs(
    runtime: RuntimeProcess, node_type: str, pause_after: int | None
) -> None:
    inputs: dict[str, Any] = {"n": 100}
    if pause_after is not None:
        inputs["pause_after"] = pause_after  # awaiting inside the generator when the cancel comes
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [step(node_type, inputs=inputs)], credits={(0, "items"): 3})
        await session.wait_until(lambda: len(session.of_kind(1, "chunk")) == 3)
        await session.cancel(1, "every reader stopped")
        events = await session.finished(1)
    assert chunk_values(events) == [0, 1, 2]
    assert logs(events, "closed") == [{"produced": 3}]
    names = [kind(event) for event in events]
    assert names.index("log", names.index("chunk")) < names.index("cancelled")  # closed before the step ended
    assert (kind(events[-1]), events[-1].cancelled.reason) == ("cancelled", "every reader stopped")


async def test_a_generator_that_fails_mid_stream_fails_the_step_after_its_items(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [step("conformance.count", inputs={"n": 10, "failAt": 4})], credits={(0, "items"): 64})
        events = await session.finished(1)
    assert chunk_values(events) == [0, 1, 2, 3]
    failure = events[-1].failed.failure
    assert (failure.type, failure.message, failure.retryable) == (
        "conformance.stream-failed",
        "failed after 4 items",
        False,
    )


async def test_an_item_of_the_wrong_type_fails_the_producer_naming_its_position(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [step("test.stream-wrong-item", node_id="gen")], credits={(0, "items"): 64})
        events = await session.finished(1)
        await session.execute(2, [step("test.stream-not-a-stream", node_id="gen")], credits={(0, "items"): 64})
        not_a_stream = await session.finished(2)
    assert chunk_values(events) == [0, 1]
    failure = events[-1].failed.failure
    assert failure.type == "output.invalid"
    assert failure.message == (
        'node "gen" (test.stream-wrong-item): item 2 of stream output "items" is invalid: expected integer, '
        'found string "two"'
    )
    assert not_a_stream[-1].failed.failure.message == (
        'node "gen" (test.stream-not-a-stream): output "items" is a stream: expected a generator, an iterator or '
        "an iterable of items, found integer 5"
    )


async def test_a_later_step_cannot_take_a_stream_output_as_a_value(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        events = await session.run(
            1,
            step("conformance.count", inputs={"n": 2}),
            step("test.read-sync", inputs={"items": pb.Input(step_output=pb.StepOutput(step=0, port="items"))}),
        )
    assert [kind(event) for event in events] == ["rejected"]
    assert events[0].rejected.failure.type == "step.invalid"
    assert 'stream output "items" of step 0' in events[0].rejected.failure.message


# ---------------------------------------------------------------- stream inputs


async def test_sum_reads_a_stream_under_the_credits_it_grants(runtime: RuntimeProcess) -> None:
    items = [json_value(number) for number in range(200)]
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [step("conformance.sum", inputs={"items": stream_in()})])
        sent = await feed(session, 1, "items", items)
        events = await session.finished(1)
    assert sent == 200
    assert {name: decode_json(value) for name, value in events[-1].completed.outputs.items()} == {
        "sum": sum(range(200)),
        "count": 200,
    }
    grants = [event.credit.credits for event in events if kind(event) == "credit"]
    assert grants[0] == 64  # the first window, then top-ups as the node reads
    assert all(event.credit.port == "items" and event.step == 0 for event in events if kind(event) == "credit")
    assert sum(grants) >= 200
    assert sum(grants) <= 200 + 64  # never more than one window ahead of what the node has read


async def test_the_window_is_topped_up_only_as_the_node_reads(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [step("test.read-sync", inputs={"items": stream_in()})])
        await session.wait_until(lambda: session.granted(1, 0, "items") == 64)
        await session.send_items(1, 0, "items", [json_value(number) for number in range(31)])
        await session.wait_until(lambda: len(logs(session.events[1], "took")) == 31)
        await session.settle()
        after_31 = session.granted(1, 0, "items")
        await session.send_items(1, 0, "items", [json_value(31)])
        await session.wait_until(lambda: session.granted(1, 0, "items") > 64)
        after_32 = session.granted(1, 0, "items")
        await session.send_items(1, 0, "items", end=True)
        events = await session.finished(1)
    assert after_31 == 64  # 33 credits left: no top-up yet
    assert after_32 == 96  # half the window read: topped up to a full window ahead
    assert decode_json(events[-1].completed.outputs["items"]) == list(range(32))


async def test_items_sent_beyond_the_credits_fail_the_reader_as_an_overrun(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [step("test.read-async", node_id="r", inputs={"items": stream_in()})])
        await session.wait_until(lambda: session.granted(1, 0, "items") == 64)
        await session.send_items(1, 0, "items", [json_value(0)] * 65)
        events = await session.finished(1)
    failure = events[-1].failed.failure
    assert failure.type == "stream.overrun"
    assert failure.message == (
        'node "r" (test.read-async): the host sent 65 items on stream input "items" when 64 credits remained'
    )


async def test_an_upstream_failure_is_raised_where_the_node_iterates(runtime: RuntimeProcess) -> None:
    upstream = pb.Failure(message="boom at 3", type="conformance.stream-failed", retryable=True)
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [step("conformance.sum", inputs={"items": stream_in()})])
        await session.wait_until(lambda: session.granted(1, 0, "items") == 64)
        await session.send_items(1, 0, "items", [json_value(number) for number in range(3)], failure=upstream)
        events = await session.finished(1)
    failure = events[-1].failed.failure
    assert (failure.type, failure.message, failure.retryable) == ("stream.upstream", "boom at 3", True)
    assert (failure.cause.type, failure.cause.message) == ("conformance.stream-failed", "boom at 3")


async def test_a_node_that_stops_reading_early_completes(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [step("conformance.sum", inputs={"items": stream_in(), "limit": 3})])
        await session.wait_until(lambda: session.granted(1, 0, "items") == 64)
        await session.send_items(1, 0, "items", [json_value(number) for number in range(10)])
        events = await session.finished(1)
        await session.send_items(1, 0, "items", [json_value(10)], end=True)  # late: dropped without a word
        await session.execute(2, [step("test.read-async", inputs={"items": stream_in(), "limit": 2})])
        await session.wait_until(lambda: session.granted(2, 0, "items") == 64)
        await session.send_items(2, 0, "items", [json_value(number) for number in range(5)])
        early = await session.finished(2)
        await session.settle()
    assert {name: decode_json(value) for name, value in events[-1].completed.outputs.items()} == {
        "sum": 3,
        "count": 3,
    }
    assert decode_json(early[-1].completed.outputs["items"]) == [0, 1]
    assert [kind(event) for event in session.events[1]].count("completed") == 1


async def test_an_item_that_does_not_fit_the_input_fails_the_reader_naming_its_position(
    runtime: RuntimeProcess,
) -> None:
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [step("conformance.sum", node_id="s", inputs={"items": stream_in()})])
        await session.wait_until(lambda: session.granted(1, 0, "items") == 64)
        await session.send_items(1, 0, "items", [json_value(1), json_value("x")])
        events = await session.finished(1)
    failure = events[-1].failed.failure
    assert (failure.type, failure.message) == (
        "input.invalid",
        'node "s" (conformance.sum): item 1 of stream input "items" expected integer, found string "x"',
    )


async def test_a_stream_input_needs_a_stream_source_and_a_plain_one_refuses_it(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        value = await session.run(1, step("conformance.sum", node_id="s", inputs={"items": [1, 2]}))
        stream = await session.run(2, step("conformance.count", node_id="c", inputs={"n": stream_in("p", "n")}))
    assert value[-1].failed.failure.message == (
        'node "s" (conformance.sum): input "items" is a stream of items: expected a stream source, found a value'
    )
    assert stream[-1].failed.failure.message == (
        'node "c" (conformance.count): input "n" takes one value, but it was given the stream "p.n"'
    )


async def test_cancel_reaches_a_node_waiting_for_its_next_item(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        for invocation_id, node_type in ((1, "test.read-sync"), (2, "test.read-async")):
            await session.execute(invocation_id, [step(node_type, inputs={"items": stream_in()})])
            await session.wait_until(lambda: session.granted(invocation_id, 0, "items") == 64)  # noqa: B023
            await session.send_items(invocation_id, 0, "items", [json_value(1)])
            await session.cancel(invocation_id, "reader cancelled")
        sync = await session.finished(1)
        other = await session.finished(2)
    for events in (sync, other):
        assert (kind(events[-1]), events[-1].cancelled.reason) == ("cancelled", "reader cancelled")


async def test_stream_in_stream_out_on_the_event_loop(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        await session.execute(
            1, [step("test.double-async", inputs={"items": stream_in()})], credits={(0, "items"): 101}
        )
        await feed(session, 1, "items", [json_value(number) for number in range(100)])
        events = await session.finished(1)
    assert chunk_values(events) == [number * 2 for number in range(100)]
    assert kind(events[-1]) == "completed"


# ---------------------------------------------------------------- Arrow batches


def sample_batch(start: int, rows: int) -> pa.RecordBatch:
    ids = list(range(start, start + rows))
    return pa.RecordBatch.from_pydict(
        {
            "id": pa.array(ids, pa.int64()),
            "value": pa.array([float(number) + 0.25 for number in ids], pa.float64()),
            "label": pa.array([f"row-{number}" for number in ids], pa.string()),
            "flag": pa.array([number % 2 == 0 for number in ids], pa.bool_()),
        }
    )


async def test_scale_multiplies_float_columns_of_each_batch_and_keeps_the_types(runtime: RuntimeProcess) -> None:
    batches = [sample_batch(0, 3), sample_batch(3, 2)]
    async with connect(runtime) as client, client.session() as session:
        await session.execute(
            1,
            [step("conformance.scale", inputs={"batches": stream_in("p", "batches"), "factor": 2})],
            credits={(0, "batches"): 64},
        )
        await feed(session, 1, "batches", [arrow_value(batch) for batch in batches])
        events = await session.finished(1)
    out = [read_batch(event.chunk.value) for event in events if kind(event) == "chunk"]
    assert [batch.schema for batch in out] == [batches[0].schema] * 2
    assert [batch.column("value").to_pylist() for batch in out] == [[0.5, 2.5, 4.5], [6.5, 8.5]]
    assert [batch.column("id").to_pylist() for batch in out] == [[0, 1, 2], [3, 4]]
    assert out[1].column("label").to_pylist() == ["row-3", "row-4"]
    assert kind(events[-1]) == "completed"
    assert dict(events[-1].completed.outputs) == {}


async def test_py_batches_makes_record_batches_that_a_reader_gets_with_their_types(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        await session.execute(
            1, [step("py.batches", inputs={"rows": 10, "batchRows": 4})], credits={(0, "batches"): 64}
        )
        produced = await session.finished(1)
        batches = [event.chunk.value for event in produced if kind(event) == "chunk"]
        await session.execute(2, [step("test.batch-types", inputs={"batches": stream_in("p", "batches")})])
        await feed(session, 2, "batches", batches)
        read = await session.finished(2)
    decoded = [read_batch(value) for value in batches]
    assert [batch.num_rows for batch in decoded] == [4, 4, 2]
    assert pa.Table.from_batches(decoded).to_pydict() == {
        "id": list(range(10)),
        "value": [float(number) for number in range(10)],
        "label": [f"row-{number}" for number in range(10)],
    }
    assert {name: decode_json(value) for name, value in read[-1].completed.outputs.items()} == {
        "rows": 10,
        "batches": 3,
        "types": {"id": "int64", "value": "double", "label": "string"},
    }


async def test_ctx_emit_cannot_go_around_the_credits_of_a_stream_output(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [step("test.emit-on-stream", node_id="e")], credits={(0, "items"): 64})
        events = await session.finished(1)
    assert [kind(event) for event in events] == ["started", "failed"]
    assert events[-1].failed.failure.message == (
        'node "e" (test.emit-on-stream): ctx.emit cannot send on "items", a stream output whose items go only '
        "within the host's credits; yield them from the generator returned for it"
    )


async def test_a_step_held_by_its_credits_past_its_timeout_fails_with_timeout(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        await session.execute(
            1, [step("test.stream-sync", node_id="slow", inputs={"n": 10}, timeout_ms=300)], credits={(0, "items"): 2}
        )
        events = await session.finished(1)
    assert chunk_values(events) == [0, 1]
    assert logs(events, "closed") == [{"produced": 2}]
    failure = events[-1].failed.failure
    assert (failure.type, failure.message, failure.retryable) == (
        "timeout",
        'node "slow" (test.stream-sync) timed out after 300 ms',
        True,
    )


async def test_a_relay_in_a_thread_passes_items_on_and_an_upstream_failure_after_them(
    runtime: RuntimeProcess,
) -> None:
    upstream = pb.Failure(message="producer broke", type="ValueError", retryable=True)
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [step("test.relay", inputs={"items": stream_in()})], credits={(0, "items"): 64})
        await feed(session, 1, "items", [json_value(number) for number in range(5)], end=False)
        await session.send_items(1, 0, "items", failure=upstream)
        events = await session.finished(1)
    assert chunk_values(events) == [0, 1, 2, 3, 4]
    assert logs(events, "closed") == [{"relayed": 5}]
    failure = events[-1].failed.failure
    assert (failure.type, failure.message, failure.retryable, failure.cause.type) == (
        "stream.upstream",
        "producer broke",
        True,
        "ValueError",
    )


async def test_cancel_reaches_a_relay_waiting_for_its_next_input_item(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [step("test.relay", inputs={"items": stream_in()})], credits={(0, "items"): 64})
        await feed(session, 1, "items", [json_value(number) for number in range(3)], end=False)
        await session.wait_until(lambda: len(session.of_kind(1, "chunk")) == 3)
        await session.cancel(1, "execution cancelled")
        events = await session.finished(1)
    assert chunk_values(events) == [0, 1, 2]
    assert logs(events, "closed") == [{"relayed": 3}]
    assert (kind(events[-1]), events[-1].cancelled.reason) == ("cancelled", "execution cancelled")


async def test_items_may_be_pandas_and_polars_frames(runtime: RuntimeProcess) -> None:
    batch = pa.RecordBatch.from_pydict({"n": pa.array([1, None, 3], pa.int64())})
    async with connect(runtime) as client, client.session() as session:
        await session.execute(
            1, [step("test.frames", inputs={"frames": stream_in("p", "frames")})], credits={(0, "frames"): 64}
        )
        await feed(session, 1, "frames", [arrow_value(batch), arrow_value(batch)])
        events = await session.finished(1)
    out = [read_batch(event.chunk.value) for event in events if kind(event) == "chunk"]
    assert [item.to_pydict() for item in out] == [{"n": [1, None, 3], "doubled": [2, None, 6]}] * 2
    assert [item.schema.types for item in out] == [[pa.int64(), pa.int64()]] * 2


async def test_a_blocking_read_on_the_event_loop_fails_instead_of_stalling_it(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        await session.execute(
            1,
            [step("test.read-blocking-on-loop", node_id="b", inputs={"items": stream_in()})],
            credits={(0, "items"): 64},
        )
        events = await session.finished(1)
    failure = events[-1].failed.failure
    assert (failure.type, failure.message) == (
        "stream.misuse",
        'node "b" (test.read-blocking-on-loop): stream input "items" is read with a blocking for loop on the event '
        "loop; read it with async for",
    )


@pytest.mark.parametrize("node_type", ["test.stream-trace", "test.stream-trace-async"])
async def test_generator_code_runs_in_the_hosts_trace_context(runtime: RuntimeProcess, node_type: str) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    traced = step(node_type)
    traced.traceparent = f"00-{trace_id}-00f067aa0ba902b7-01"
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [traced], credits={(0, "ids"): 64})
        events = await session.finished(1)
    assert chunk_values(events, "ids") == [trace_id, trace_id]
