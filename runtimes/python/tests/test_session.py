"""What is particular to Python on the Session stream: chains through models, batching, pydantic's diagnostics,
cancellation reaching thread, async and process nodes, timeouts, closing the stream. What every runtime must do on
the Session is checked by the conformance kit, which CI runs against this runtime (docs/conformance.md)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path

import grpc

from conductor_runtime.gen.conductor.runtime.v1 import runtime_pb2 as pb
from harness import TERMINAL, RuntimeProcess, connect, decode_json, kind, ref, step, wait_until

Spawn = Callable[..., RuntimeProcess]


# ---------------------------------------------------------------- steps


async def test_chain_passes_step_outputs_in_memory(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        events = await session.run(
            1,
            step("conformance.add", node_id="first", inputs={"a": 1, "b": 2}),
            step("conformance.add", node_id="second", inputs={"a": ref(0, "sum"), "b": 10}),
            step("test.model-output", node_id="third", inputs={"x": ref(1, "sum")}),
        )
    assert [(event.step, kind(event)) for event in events] == [
        (0, "started"),
        (0, "completed"),
        (1, "started"),
        (1, "completed"),
        (2, "started"),
        (2, "completed"),
    ]
    outputs = events[-1].completed.outputs
    assert decode_json(events[3].completed.outputs["sum"]) == 13
    assert (decode_json(outputs["total"]), decode_json(outputs["label"])) == (23, "13+10")


async def test_ready_events_leave_together(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        await session.run(
            7,
            step("conformance.add", inputs={"a": 1, "b": 2}),
            step("conformance.add", inputs={"a": ref(0, "sum"), "b": 1}),
        )
    batches = [batch for batch in session.responses if batch and batch[0][0] == 7]
    assert batches == [[(7, 0, "started"), (7, 0, "completed"), (7, 1, "started"), (7, 1, "completed")]]


async def test_failed_step_stops_the_chain(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        events = await session.run(
            1,
            step("conformance.throw", config={"message": "first"}),
            step("conformance.add", inputs={"a": 1, "b": 2}),
        )
        await asyncio.sleep(0.05)
    assert [(event.step, kind(event)) for event in session.events[1]] == [(0, "started"), (0, "failed")]
    assert kind(events[-1]) == "failed"


async def test_outputs_of_models_typeddicts_and_dataclasses_become_ports(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        halves = await session.run(1, step("test.typeddict-output", inputs={"x": 7}))
        model = await session.run(2, step("test.model-output", inputs={"x": 1}))
    assert {name: decode_json(value) for name, value in halves[-1].completed.outputs.items()} == {
        "low": 3,
        "high": 4,
    }
    assert {name: decode_json(value) for name, value in model[-1].completed.outputs.items()} == {
        "total": 11,
        "label": "1+10",
    }


async def test_context_exposes_ids_heartbeat_and_debug_logs(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [step("test.context", node_id="ctx", attempt=3)], execution_id="exec-42")
        events = await session.finished(1)
    assert [kind(event) for event in events] == ["started", "heartbeat", "log", "completed"]
    assert decode_json(events[1].heartbeat.details) == {"offset": 5}
    assert (events[2].log.level, json.loads(events[2].log.fields_json)) == (
        pb.Log.LEVEL_DEBUG,
        {"level": "deep"},
    )
    assert decode_json(events[-1].completed.outputs["seen"]) == {
        "node_id": "ctx",
        "execution_id": "exec-42",
        "attempt": 3,
    }


async def test_stdlib_logging_in_a_node_becomes_log_events(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        events = await session.run(1, step("test.stdlib-logging"))
    log = events[1].log
    assert (log.level, log.message) == (pb.Log.LEVEL_WARN, "from the stdlib logger x")
    assert json.loads(log.fields_json) == {"rows": 3}


async def test_process_executor_runs_the_node_in_another_process(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        events = await session.run(1, step("test.process-pid", inputs={"x": 1}), timeout_s=60)
    assert kind(events[-1]) == "completed", events[-1]
    assert decode_json(events[-1].completed.outputs["pid"]) not in (0, runtime.info["pid"])


async def test_outputs_that_cannot_be_encoded_fail_the_step(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        opaque = await session.run(1, step("test.unencodable"))
        wrong = await session.run(2, step("test.wrong-output-type"))
        missing = await session.run(3, step("test.missing-output", inputs={"x": -1}))
        present = await session.run(4, step("test.missing-output", inputs={"x": 1}))
    assert [kind(event) for event in opaque] == ["started", "failed"]
    failure = opaque[-1].failed.failure
    assert (failure.type, failure.retryable) == ("value.unencodable", False)
    assert "a value of type object cannot be encoded as JSON" in failure.message
    assert wrong[-1].failed.failure.type == "output.invalid"
    assert missing[-1].failed.failure.message == (
        'node "n" (test.missing-output) did not produce its output "high", which it declares as always produced'
    )
    assert [kind(event) for event in present] == ["started", "completed"]
    assert wrong[-1].failed.failure.message == (
        'node "n" (test.wrong-output-type): output "data" expected raw bytes, found string "not bytes"'
    )


async def test_process_workers_end_with_the_runtime(spawn: Spawn) -> None:
    for ending in ("stdin", "crash"):
        runtime = spawn()
        async with connect(runtime) as client, client.session() as session:
            events = await session.run(1, step("test.process-pid", inputs={"x": 1}), timeout_s=60)
            worker = decode_json(events[-1].completed.outputs["pid"])
            if ending == "crash":
                await session.execute(2, [step("conformance.crash")])
                await asyncio.wait_for(session.closed, 10)
        runtime.close_stdin()
        runtime.wait(10)
        assert await wait_until(lambda pid=worker: not _alive(pid), 5), (
            f"worker {worker} outlived the runtime ({ending})"
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# ---------------------------------------------------------------- rejections and validation


async def test_inputs_are_validated_before_the_node_runs(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        wrong = await session.run(1, step("conformance.add", node_id="adder", inputs={"a": "x", "b": 1}))
        absent = await session.run(2, step("conformance.add", node_id="adder", inputs={"a": 1}))
        extra = await session.run(3, step("conformance.add", node_id="adder", inputs={"a": 1, "b": 2, "c": 3}))
        encoding = await session.run(4, step("test.bytes-length", inputs={"data": 5}))
    failure = wrong[-1].failed.failure
    assert (failure.type, failure.retryable) == ("input.invalid", False)
    assert failure.message.startswith('node "adder" (conformance.add): input "a" expected number')
    assert 'found string "x"' in failure.message
    assert absent[-1].failed.failure.message == (
        'node "adder" (conformance.add): input "b" is required but was not given'
    )
    assert 'has no input "c"; its inputs are: a, b' in extra[-1].failed.failure.message
    assert "expected raw bytes, found a json value" in encoding[-1].failed.failure.message


async def test_config_is_validated_before_the_node_runs(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        events = await session.run(1, step("conformance.sleep", node_id="nap", config={"ms": "soon"}))
        missing = await session.run(2, step("conformance.sleep", node_id="nap"))
    failure = events[-1].failed.failure
    assert (failure.type, failure.retryable) == ("config.invalid", False)
    assert failure.message == 'node "nap" (conformance.sleep): config field "ms" expected integer, found string "soon"'
    assert 'config field "ms" expected a value, found nothing' in missing[-1].failed.failure.message


# ---------------------------------------------------------------- cancellation and timeouts


async def test_cancel_reaches_a_sync_node_in_its_thread(runtime: RuntimeProcess, tmp_path: Path) -> None:
    marker = tmp_path / "thread"
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [step("test.thread-sleep", config={"ms": 20000, "marker": str(marker)})])
        await session.wait_for_kind(1, "started")
        await session.cancel(1, reason="user pressed stop")
        # The node sleeps 20 s, as long as `finished` waits: it ends only because the cancel reached it.
        events = await session.finished(1, timeout_s=10)
    assert kind(events[-1]) == "cancelled"
    assert events[-1].cancelled.reason == "user pressed stop"
    assert marker.read_text() == "user pressed stop"


async def test_cancel_reaches_an_async_node(runtime: RuntimeProcess, tmp_path: Path) -> None:
    marker = tmp_path / "async"
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [step("test.async-sleep", config={"ms": 20000, "marker": str(marker)})])
        await session.execute(2, [step("test.await-token")])
        await session.wait_for_kind(1, "started")
        await session.wait_for_kind(2, "started")
        await session.cancel(1, reason="stop one")
        await session.cancel(2, reason="stop two")
        first = await session.finished(1, timeout_s=2)
        second = await session.finished(2, timeout_s=2)
    assert (kind(first[-1]), first[-1].cancelled.reason) == ("cancelled", "stop one")
    assert marker.read_text() == "cancelled"
    assert (kind(second[-1]), second[-1].cancelled.reason) == ("cancelled", "stop two")


async def test_timeout_fails_the_step_as_retryable(runtime: RuntimeProcess, tmp_path: Path) -> None:
    marker = tmp_path / "timeout"
    async with connect(runtime) as client, client.session() as session:
        # Both nodes sleep 20 s, longer than `run` waits: they end only because their timeouts fired.
        events = await session.run(
            1,
            step(
                "test.thread-sleep",
                node_id="fetch",
                config={"ms": 20000, "marker": str(marker)},
                timeout_ms=200,
            ),
            timeout_s=10,
        )
        async_events = await session.run(
            2, step("test.async-sleep", node_id="wait", config={"ms": 20000}, timeout_ms=100), timeout_s=10
        )
    failure = events[-1].failed.failure
    assert (failure.type, failure.retryable) == ("timeout", True)
    assert failure.message == 'node "fetch" (test.thread-sleep) timed out after 200 ms'
    assert marker.read_text() == "timeout"
    assert async_events[-1].failed.failure.message == 'node "wait" (test.async-sleep) timed out after 100 ms'


async def test_a_timeout_is_reported_once_the_node_has_returned(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        events = await session.run(1, step("test.thread-tidy", node_id="tidy", timeout_ms=100))
    # Reported before the node returned, the host's retry could run beside the cleaning up.
    assert [kind(event) if kind(event) != "log" else event.log.message for event in events] == [
        "started",
        "cleaning up",
        "cleaned up",
        "failed",
    ]
    failure = events[-1].failed.failure
    assert (failure.type, failure.retryable, failure.message) == (
        "timeout",
        True,
        'node "tidy" (test.thread-tidy) timed out after 100 ms',
    )


async def test_half_closing_the_stream_cancels_its_invocations(runtime: RuntimeProcess, tmp_path: Path) -> None:
    marker = tmp_path / "closed"
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [step("test.thread-sleep", config={"ms": 20000, "marker": str(marker)})])
        await session.wait_for_kind(1, "started")
        await session.call.done_writing()
        events = await session.finished(1, timeout_s=3)
        assert await asyncio.wait_for(session.closed, 3) == grpc.StatusCode.OK
    assert (kind(events[-1]), events[-1].cancelled.reason) == ("cancelled", "session closed")
    assert marker.read_text() == "session closed"


async def test_dropping_the_stream_cancels_its_invocations(runtime: RuntimeProcess, tmp_path: Path) -> None:
    thread_marker = tmp_path / "thread"
    async_marker = tmp_path / "async"
    async with connect(runtime) as client:
        async with client.session() as session:
            await session.execute(1, [step("test.thread-sleep", config={"ms": 20000, "marker": str(thread_marker)})])
            await session.execute(2, [step("test.async-sleep", config={"ms": 20000, "marker": str(async_marker)})])
            await session.wait_for_kind(1, "started")
            await session.wait_for_kind(2, "started")
        # Leaving the block cancels the call, as a dropped connection would.
        await wait_until(lambda: thread_marker.exists() and async_marker.exists(), 3)
        assert thread_marker.read_text() == "session closed"
        assert async_marker.read_text() == "cancelled"
        # The slots were given back: the runtime still accepts work.
        async with client.session() as session:
            assert kind((await session.run(3, step("conformance.add", inputs={"a": 1, "b": 1})))[-1]) == "completed"


# ---------------------------------------------------------------- concurrency


async def test_invocations_run_concurrently(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        await session.execute_many(
            {
                1: [step("conformance.sleep", config={"ms": 400})],
                2: [step("conformance.sleep", config={"ms": 400})],
                3: [step("test.async-sleep", config={"ms": 400})],
                4: [step("test.async-sleep", config={"ms": 400})],
            }
        )
        for invocation_id in (1, 2, 3, 4):
            assert kind((await session.finished(invocation_id))[-1]) == "completed"
        order = [name for response in session.responses for (_, _, name) in response if name in TERMINAL | {"started"}]
    # All four started before the first finished: they ran at the same time, not one after another.
    assert order == ["started"] * 4 + ["completed"] * 4
