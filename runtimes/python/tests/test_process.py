"""Process-pool nodes: a Context in the worker (events, ids, cancellation), and workers killed after their grace."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from conductor_runtime.gen.conductor.runtime.v1 import runtime_pb2 as pb
from harness import RuntimeProcess, SessionClient, connect, decode_json, kind, step, wait_until

Spawn = Callable[..., RuntimeProcess]

# The first process step spawns the pool's workers, which import the node modules.
WARM_UP_S = 30


async def warm_up(session: SessionClient, invocation_id: int) -> int:
    """Runs one process step, so that later timings do not include spawning the pool; returns its worker's pid."""
    events = await session.run(invocation_id, step("test.process-pid", inputs={"x": 1}), timeout_s=WARM_UP_S)
    assert kind(events[-1]) == "completed", events[-1]
    return decode_json(events[-1].completed.outputs["pid"])


def gone(pid: int) -> bool:
    """Whether the process has ended (a zombie not yet reaped counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    status = Path(f"/proc/{pid}/status")
    try:
        return "State:\tZ" in status.read_text()
    except OSError:
        return False


def pid_in(marker: Path) -> int:
    return int(marker.read_text().split()[0])


async def started_pid(marker: Path) -> int:
    """The pid a node wrote to its marker file when it started."""
    assert await wait_until(lambda: marker.exists() and marker.read_text().strip() != "", WARM_UP_S)
    return pid_in(marker)


async def test_a_process_node_gets_a_context_whose_events_reach_the_host(spawn: Spawn) -> None:
    runtime = spawn()
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [step("test.process-report", node_id="report", attempt=2)], execution_id="exec-7")
        events = await session.finished(1, timeout_s=WARM_UP_S)
        await client.stub.Shutdown(pb.ShutdownRequest(), metadata=client.metadata)
    assert [kind(event) for event in events] == ["started", "log", "log", "progress", "chunk", "heartbeat", "completed"]
    info, warning = events[1].log, events[2].log
    assert (info.level, info.message, json.loads(info.fields_json)) == (
        pb.Log.LEVEL_INFO,
        "hello from the worker",
        {"n": 1},
    )
    assert (warning.level, warning.message, json.loads(warning.fields_json)) == (
        pb.Log.LEVEL_WARN,
        "stdlib logging in the worker",
        {"rows": 3},
    )
    assert (events[3].progress.fraction, events[3].progress.message) == (0.5, "half")
    assert (events[4].chunk.port, decode_json(events[4].chunk.value)) == ("items", [1, 2])
    assert decode_json(events[5].heartbeat.details) == {"offset": 5}
    seen = decode_json(events[-1].completed.outputs["result"])
    assert seen.pop("pid") not in (0, runtime.info["pid"])
    assert seen == {
        "node_id": "report",
        "node_type": "test.process-report",
        "execution_id": "exec-7",
        "attempt": 2,
        "cancelled": False,
    }
    # Output of the worker goes to stderr, never to the protocol's stdout.
    assert runtime.wait() == 0
    assert runtime.rest_of_stdout() == b""
    assert "noise from a process node" in runtime.stderr()
    assert "noise from fd 1 of a process node" in runtime.stderr()
    # The pool's semaphores are released before the runtime exits: the resource tracker that multiprocessing
    # started (it outlives the runtime by a moment) finds none left over to warn about.
    await asyncio.sleep(0.5)
    assert "leaked semaphore" not in runtime.stderr()


@pytest.mark.parametrize("mode", ["is_set", "wait"])
async def test_cancel_reaches_a_process_node_in_a_cpu_loop(runtime: RuntimeProcess, tmp_path: Path, mode: str) -> None:
    marker = tmp_path / "spin"
    async with connect(runtime) as client, client.session() as session:
        await warm_up(session, 1)
        await session.execute(2, [step("test.process-spin", config={"marker": str(marker), "mode": mode})])
        pid = await started_pid(marker)
        await session.cancel(2, reason="user pressed stop", grace_ms=4000)
        events = await session.finished(2, timeout_s=5)
    assert (kind(events[-1]), events[-1].cancelled.reason) == ("cancelled", "user pressed stop")
    # The node saw the token and returned by itself (it wrote the reason), and its worker was not killed.
    assert marker.read_text() == f"{pid} user pressed stop"
    assert not gone(pid)


async def test_a_timeout_fires_the_token_of_a_process_node(runtime: RuntimeProcess, tmp_path: Path) -> None:
    marker = tmp_path / "spin"
    async with connect(runtime) as client, client.session() as session:
        await warm_up(session, 1)
        events = await session.run(2, step("test.process-spin", config={"marker": str(marker)}, timeout_ms=300))
    assert (kind(events[-1]), events[-1].failed.failure.type) == ("failed", "timeout")
    assert await wait_until(lambda: marker.read_text().endswith(" timeout"), 2)


async def test_a_process_node_that_ignores_cancel_is_killed_after_the_grace(
    runtime: RuntimeProcess, tmp_path: Path
) -> None:
    marker = tmp_path / "stubborn"
    async with connect(runtime) as client, client.session() as session:
        await warm_up(session, 1)
        await session.execute(2, [step("test.process-spin", config={"marker": str(marker), "mode": "ignore"})])
        pid = await started_pid(marker)
        await session.cancel(2, reason="stop now", grace_ms=2000)
        # The node spins for ever: the cancel is answered only because its worker was killed.
        events = await session.finished(2, timeout_s=5)
        assert (kind(events[-1]), events[-1].cancelled.reason) == ("cancelled", "stop now")
        assert await wait_until(lambda: gone(pid), 3)
        assert marker.read_text() == f"{pid}"  # it never got to notice the cancel
        # The pool is usable again: the next process step runs, in a fresh worker.
        events = await session.run(3, step("test.process-pid", inputs={"x": 1}), timeout_s=WARM_UP_S)
    assert kind(events[-1]) == "completed", events[-1]
    assert decode_json(events[-1].completed.outputs["pid"]) not in (0, pid, runtime.info["pid"])


async def test_a_timed_out_process_node_that_runs_on_is_killed(runtime: RuntimeProcess, tmp_path: Path) -> None:
    marker = tmp_path / "stubborn"
    async with connect(runtime) as client, client.session() as session:
        await warm_up(session, 1)
        events = await session.run(
            2, step("test.process-spin", config={"marker": str(marker), "mode": "ignore"}, timeout_ms=200)
        )
        assert (kind(events[-1]), events[-1].failed.failure.type) == ("failed", "timeout")
        pid = pid_in(marker)
        assert await wait_until(lambda: gone(pid), 3)  # KILL_AFTER_S (1 s) after the timeout
        events = await session.run(3, step("test.process-pid", inputs={"x": 1}), timeout_s=WARM_UP_S)
    assert kind(events[-1]) == "completed", events[-1]


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two pool workers running at once")
async def test_a_kill_fails_the_running_process_steps_of_its_pool_and_reruns_the_queued_ones(
    runtime: RuntimeProcess, tmp_path: Path
) -> None:
    stubborn, bystander = tmp_path / "stubborn", tmp_path / "bystander"
    async with connect(runtime) as client, client.session() as session:
        await warm_up(session, 1)
        await session.execute(2, [step("test.process-spin", config={"marker": str(stubborn), "mode": "ignore"})])
        await session.execute(3, [step("test.process-sleep", config={"ms": 20000, "marker": str(bystander)})])
        stubborn_pid = await started_pid(stubborn)
        await started_pid(bystander)
        # Both workers are busy: this call waits in the broken pool's queue, and must run in the fresh one.
        await session.execute(4, [step("test.process-pid", inputs={"x": 1})])
        await session.cancel(2, grace_ms=200)
        cancelled = await session.finished(2, timeout_s=5)
        lost = await session.finished(3, timeout_s=5)
        queued = await session.finished(4, timeout_s=WARM_UP_S)
        after = await session.run(5, step("test.process-pid", inputs={"x": 1}), timeout_s=WARM_UP_S)
    assert kind(cancelled[-1]) == "cancelled"
    failure = lost[-1].failed.failure
    assert (failure.type, failure.retryable) == ("process.lost", True)
    assert 'node "n" (test.process-sleep)' in failure.message
    assert kind(queued[-1]) == "completed", queued[-1]
    assert decode_json(queued[-1].completed.outputs["pid"]) != stubborn_pid
    assert kind(after[-1]) == "completed"


async def test_a_process_step_cancelled_before_its_worker_starts_it_never_runs(
    runtime: RuntimeProcess, tmp_path: Path
) -> None:
    markers = [tmp_path / f"busy-{index}" for index in range(os.cpu_count() or 1)]
    late = tmp_path / "late"
    async with connect(runtime) as client, client.session() as session:
        await warm_up(session, 1)
        # Every worker busy, so the next call waits in the pool's queue.
        for index, marker in enumerate(markers):
            await session.execute(10 + index, [step("test.process-sleep", config={"ms": 800, "marker": str(marker)})])
        for marker in markers:
            await started_pid(marker)
        await session.execute(2, [step("test.process-sleep", config={"ms": 1, "marker": str(late)})])
        await asyncio.sleep(0.1)
        await session.cancel(2, grace_ms=20000)
        events = await session.finished(2, timeout_s=5)
        for index in range(len(markers)):
            busy = await session.finished(10 + index, timeout_s=5)
            assert kind(busy[-1]) == "completed"
    assert kind(events[-1]) == "cancelled"
    await asyncio.sleep(0.2)
    assert not late.exists()
