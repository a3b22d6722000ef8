"""Life of the runtime process: started by hand, handshake line and RPC, ABI, token, stdin EOF, drain, shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable

import grpc
import pytest

from conductor_runtime.gen.conductor.runtime.v1 import runtime_pb2 as pb
from harness import COOKIE, RuntimeProcess, connect, kind, runtime_environment, step

Spawn = Callable[..., RuntimeProcess]


def test_started_by_hand_explains_itself_and_exits_2() -> None:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CONDUCTOR_")}
    result = subprocess.run(
        [sys.executable, "-m", "conductor_runtime", "--module", "conductor_runtime.conformance"],
        env=environment,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == b""
    message = result.stderr.decode()
    assert "this is the Conductor python runtime (conductor-runtime 0.1.0)" in message
    assert "not by hand: run `conductor run <blueprint>`" in message
    assert "CONDUCTOR_REATTACH" in message


def test_wrong_cookie_counts_as_started_by_hand(tmp_path: os.PathLike[str]) -> None:
    environment = runtime_environment(str(tmp_path), str(tmp_path), CONDUCTOR_COOKIE="nope")
    result = subprocess.run(
        [sys.executable, "-m", "conductor_runtime"],
        env=environment,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert b"started by the Conductor host" in result.stderr


def test_missing_socket_dir_is_explained(tmp_path: os.PathLike[str]) -> None:
    environment = runtime_environment("", str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "conductor_runtime"],
        env=environment,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert b"CONDUCTOR_SOCKET_DIR is not set" in result.stderr


def test_unusable_socket_dir_is_explained(tmp_path: os.PathLike[str]) -> None:
    missing = os.path.join(tmp_path, "absent")
    too_long = os.path.join(tmp_path, "d" * 120)
    os.mkdir(too_long)
    for socket_dir, message in ((missing, b"is not a directory"), (too_long, b"longer than the 107")):
        environment = runtime_environment(socket_dir, str(tmp_path))
        result = subprocess.run(
            [sys.executable, "-m", "conductor_runtime"], env=environment, capture_output=True, timeout=30, check=False
        )
        assert result.returncode == 1
        assert message in result.stderr


def test_a_node_module_that_does_not_import_is_summed_up_on_the_last_line(tmp_path: os.PathLike[str]) -> None:
    environment = runtime_environment(str(tmp_path), str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "conductor_runtime", "--module", "no_such_node_module"],
        env=environment,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    # The host quotes the last lines of stderr: the summary is the last one, after the traceback.
    lines = result.stderr.decode().strip().splitlines()
    assert "Traceback" in lines[0]
    assert lines[-1] == (
        'conductor-runtime: cannot import node module "no_such_node_module": '
        "ModuleNotFoundError: No module named 'no_such_node_module'"
    )


def test_writes_one_handshake_line(runtime: RuntimeProcess) -> None:
    info = runtime.info
    assert info["conductor"] == 1
    assert info["abi"] == 1
    assert info["network"] == "unix"
    assert info["address"] == str(runtime.socket_dir / "python.sock")
    assert os.path.isabs(info["address"])
    assert info["pid"] == runtime.process.pid if runtime.process else False
    assert info["runtime"] == "python"
    assert info["version"] == "0.1.0"


async def test_handshake_rpc_reports_abi_features_and_limits(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client:
        response = await client.stub.Handshake(
            pb.HandshakeRequest(host_version="test", abi_versions=[1], features=["session.steps"]),
            metadata=client.metadata,
        )
    assert response.abi_version == 1
    assert response.runtime.name == "python"
    assert response.runtime.language == "python"
    assert response.runtime.version == "0.1.0"
    assert response.runtime.pid == runtime.info["pid"]
    assert list(response.features) == ["session.steps", "values.arrow", "values.blob"]
    assert response.max_concurrency == 32
    assert response.max_message_bytes == 64 * 1024 * 1024
    assert len(response.schema_hash) == 64


async def test_abi_mismatch_reports_own_version_so_the_host_can_name_both(spawn: Spawn) -> None:
    runtime = spawn(environment={"CONDUCTOR_ABI_VERSIONS": "3,2"})
    assert runtime.info["abi"] == 1
    async with connect(runtime) as client:
        response = await client.stub.Handshake(pb.HandshakeRequest(abi_versions=[3, 2]), metadata=client.metadata)
    assert response.abi_version == 1


async def test_limits_come_from_the_environment_and_flags(spawn: Spawn) -> None:
    runtime = spawn(arguments=["--max-concurrency", "3"], environment={"CONDUCTOR_MAX_MESSAGE_BYTES": "1048576"})
    async with connect(runtime) as client:
        response = await client.stub.Handshake(pb.HandshakeRequest(abi_versions=[1]), metadata=client.metadata)
    assert response.max_concurrency == 3
    assert response.max_message_bytes == 1048576


@pytest.mark.parametrize("token", [None, "wrong-token"])
async def test_calls_without_the_right_token_are_unauthenticated(runtime: RuntimeProcess, token: str | None) -> None:
    async with connect(runtime, token=token) as client:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await client.stub.Handshake(pb.HandshakeRequest(abi_versions=[1]), metadata=client.metadata)
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert raised.value.details() == "missing or wrong conductor-token"

        # The server refuses the stream as it opens, before any message: reading shows its status. (Writing first
        # would race it: a write that meets the refusal fails with a local INTERNAL status instead.)
        call = client.stub.Session(metadata=client.metadata)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await asyncio.wait_for(call.read(), timeout=10)
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert raised.value.details() == "missing or wrong conductor-token"


async def test_print_in_a_node_never_reaches_stdout(spawn: Spawn) -> None:
    runtime = spawn()
    async with connect(runtime) as client, client.session() as session:
        events = await session.run(1, step("conformance.print"))
        assert kind(events[-1]) == "completed"
        events = await session.run(2, step("test.print-everywhere"))
        assert kind(events[-1]) == "completed"
        await client.stub.Shutdown(pb.ShutdownRequest(), metadata=client.metadata)
    assert runtime.wait() == 0
    assert runtime.rest_of_stdout() == b""
    stderr = runtime.stderr()
    for noise in ("noise\n", "noise from print", "noise from sys.stdout", "noise from fd 1"):
        assert noise in stderr


def test_exits_when_stdin_reaches_eof(spawn: Spawn) -> None:
    runtime = spawn()
    runtime.close_stdin()
    # `wait` gives up after 10 s: the runtime exits by itself, with 0.
    assert runtime.wait(10) == 0


async def test_shutdown_answers_then_exits_0(spawn: Spawn) -> None:
    runtime = spawn()
    async with connect(runtime) as client:
        await client.stub.Shutdown(pb.ShutdownRequest(), metadata=client.metadata)
    assert runtime.wait(10) == 0


async def test_crash_node_exits_with_status_3(spawn: Spawn) -> None:
    runtime = spawn()
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [step("conformance.crash")])
        code = await asyncio.wait_for(session.closed, 10)
        assert code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL, grpc.StatusCode.CANCELLED)
    assert runtime.wait(10) == 3


async def test_drain_waits_for_running_invocations_then_refuses_new_ones(spawn: Spawn) -> None:
    runtime = spawn()
    async with connect(runtime) as client, client.session() as session:
        await session.execute(1, [step("conformance.sleep", config={"ms": 300})])
        await session.wait_for_kind(1, "started")
        short = await client.stub.Drain(pb.DrainRequest(grace_ms=20), metadata=client.metadata)
        assert short.unfinished == 1
        full = await client.stub.Drain(pb.DrainRequest(grace_ms=5000), metadata=client.metadata)
        assert full.unfinished == 0
        assert kind((await session.finished(1))[-1]) == "completed"
        events = await session.run(2, step("conformance.add", inputs={"a": 1, "b": 2}))
        assert kind(events[-1]) == "rejected"
        assert events[-1].rejected.failure.type == "runtime.busy"
        assert events[-1].rejected.failure.retryable
        assert "draining" in events[-1].rejected.failure.message


def test_handshake_line_is_valid_json_terminated_by_newline(tmp_path: os.PathLike[str]) -> None:
    socket_dir = os.path.join(tmp_path, "s")
    os.mkdir(socket_dir, 0o700)
    environment = runtime_environment(socket_dir, str(tmp_path))
    assert environment["CONDUCTOR_COOKIE"] == COOKIE
    process = subprocess.Popen(
        [sys.executable, "-m", "conductor_runtime"],
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    _, stderr = process.communicate(timeout=20)  # closes stdin: the runtime exits
    assert line.endswith(b"\n"), stderr.decode(errors="replace")
    assert json.loads(line)["conductor"] == 1
    assert process.returncode == 0
