"""What is particular to the Python process: an unusable socket directory, a node module that does not import, limits
from flags, output of print(), sys.stdout and fd 1. What every runtime must do at start and stop is checked by the
conformance kit, which CI runs against this runtime (test/conformance/conformance-kit.test.ts; docs/conformance.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from conductor_runtime.gen.conductor.runtime.v1 import runtime_pb2 as pb
from harness import RuntimeProcess, connect, kind, runtime_environment, step

Spawn = Callable[..., RuntimeProcess]


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


async def test_limits_come_from_the_environment_and_flags(spawn: Spawn) -> None:
    runtime = spawn(arguments=["--max-concurrency", "3"], environment={"CONDUCTOR_MAX_MESSAGE_BYTES": "1048576"})
    async with connect(runtime) as client:
        response = await client.stub.Handshake(pb.HandshakeRequest(abi_versions=[1]), metadata=client.metadata)
    assert response.max_concurrency == 3
    assert response.max_message_bytes == 1048576


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
