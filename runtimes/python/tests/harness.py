"""A stand-in host for the tests: spawns the runtime as the real host does and drives it over gRPC."""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from conductor_runtime.gen.conductor.runtime.v1 import runtime_pb2 as pb
from conductor_runtime.gen.conductor.runtime.v1 import runtime_pb2_grpc as pb_grpc

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

COOKIE = "conductor-runtime-7f3c9a1e"
TOKEN = "test-token-123"
NODES_DIR = Path(__file__).parent / "nodes"
EXAMPLES_DIR = Path(__file__).parent.parent / "examples"
START_TIMEOUT_S = 20.0


def runtime_environment(socket_dir: str, blob_dir: str, **overrides: str) -> dict[str, str]:
    """The environment the host gives a runtime (docs/protocol.md, section 1.1)."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CONDUCTOR_")}
    environment.update(
        CONDUCTOR_COOKIE=COOKIE,
        CONDUCTOR_ABI_VERSIONS="1",
        CONDUCTOR_SOCKET_DIR=socket_dir,
        CONDUCTOR_TOKEN=TOKEN,
        CONDUCTOR_RUNTIME_NAME="python",
        CONDUCTOR_BLOB_DIR=blob_dir,
    )
    environment.update(overrides)
    return environment


@dataclass
class RuntimeProcess:
    """A runtime child process started like the host starts one: stdin kept open as a pipe, stdout read for the
    handshake line, stderr captured to a file."""

    modules: list[str] = field(
        default_factory=lambda: ["conductor_runtime.conformance", "nodes_for_tests", "sales_nodes"]
    )
    arguments: list[str] = field(default_factory=list[str])
    environment: dict[str, str] = field(default_factory=dict[str, str])
    process: subprocess.Popen[bytes] | None = None
    info: dict[str, Any] = field(default_factory=dict[str, Any])
    spawn_to_line_s: float = 0.0
    spawned_at: float = 0.0

    def __post_init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="conductor-py-"))
        self.socket_dir = self.directory / "sockets"
        self.socket_dir.mkdir(mode=0o700)
        self.blob_dir = self.directory / "blobs"
        self.blob_dir.mkdir()
        self.stderr_path = self.directory / "stderr.log"

    def command(self) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "conductor_runtime",
            "--path",
            str(NODES_DIR),
            "--path",
            str(EXAMPLES_DIR),
        ]
        for module in self.modules:
            command += ["--module", module]
        return command + self.arguments

    def start(self) -> RuntimeProcess:
        environment = runtime_environment(str(self.socket_dir), str(self.blob_dir), **self.environment)
        with self.stderr_path.open("wb") as stderr:
            self.spawned_at = time.perf_counter()
            self.process = subprocess.Popen(
                self.command(), env=environment, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr
            )
        line = self.read_stdout_line(START_TIMEOUT_S)
        self.spawn_to_line_s = time.perf_counter() - self.spawned_at
        if not line:
            raise RuntimeError(f"runtime printed no handshake line; stderr:\n{self.stderr()}")
        self.info = json.loads(line)
        return self

    @property
    def child(self) -> subprocess.Popen[bytes]:
        assert self.process is not None, "start() first"
        return self.process

    def read_stdout_line(self, timeout_s: float) -> bytes:
        stdout = self.child.stdout
        assert stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            if not selector.select(timeout_s):
                return b""
        return stdout.readline()

    def rest_of_stdout(self) -> bytes:
        """Everything written to stdout after the handshake line (call after the process exited)."""
        stdout = self.child.stdout
        assert stdout is not None
        return stdout.read()

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    @property
    def address(self) -> str:
        return str(self.info["address"])

    def close_stdin(self) -> None:
        stdin = self.child.stdin
        if stdin is not None and not stdin.closed:
            stdin.close()

    def wait(self, timeout_s: float = 10.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout_s)

    def stop(self) -> None:
        """Ends the process like the host does: close stdin, then SIGTERM, then SIGKILL."""
        if self.process is None:
            return
        self.close_stdin()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


async def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    """Polls ``condition`` (a file appearing, say) until it holds or the time is up; returns its last value."""
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:  # noqa: ASYNC110 because files give no event to await
        await asyncio.sleep(0.01)
    return condition()


def json_value(data: Any) -> pb.Value:
    return pb.Value(json=json.dumps(data).encode())


def value_input(value: pb.Value) -> pb.Input:
    return pb.Input(value=value)


def ref(step: int, port: str) -> pb.Input:
    return pb.Input(step_output=pb.StepOutput(step=step, port=port))


def step(
    node_type: str,
    *,
    node_id: str = "n",
    config: Any = None,
    inputs: Mapping[str, pb.Input | pb.Value | Any] | None = None,
    timeout_ms: int = 0,
    attempt: int = 1,
) -> pb.Step:
    """A Step; plain Python input values are sent as JSON."""
    built = pb.Step(node_id=node_id, node_type=node_type, attempt=attempt, timeout_ms=timeout_ms)
    if config is not None:
        built.config.CopyFrom(config if isinstance(config, pb.Value) else json_value(config))
    for name, given in (inputs or {}).items():
        if isinstance(given, pb.Input):
            built.inputs[name].CopyFrom(given)
        elif isinstance(given, pb.Value):
            built.inputs[name].value.CopyFrom(given)
        else:
            built.inputs[name].value.CopyFrom(json_value(given))
    return built


def decode_json(value: pb.Value) -> Any:
    assert value.WhichOneof("kind") == "json", value
    return json.loads(value.json)


def kind(event: pb.Event) -> str:
    return event.WhichOneof("kind") or ""


TERMINAL = frozenset({"completed", "failed", "cancelled", "rejected"})


class SessionClient:
    """One Session stream: sends commands and collects the events of each invocation."""

    def __init__(self, call: grpc.aio.StreamStreamCall[pb.SessionRequest, pb.SessionResponse]) -> None:
        self.call = call
        self.events: dict[int, list[pb.Event]] = {}
        self.responses: list[list[tuple[int, int, str]]] = []
        self._step_counts: dict[int, int] = {}
        self._done: dict[int, asyncio.Future[list[pb.Event]]] = {}
        self._pings = 0
        self.closed = asyncio.get_running_loop().create_future()
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        try:
            while True:
                response = await self.call.read()
                if response is grpc.aio.EOF:
                    break
                assert isinstance(response, pb.SessionResponse)
                self.responses.append([(event.invocation_id, event.step, kind(event)) for event in response.events])
                for event in response.events:
                    self._record(event)
        except grpc.aio.AioRpcError as error:
            if not self.closed.done():
                self.closed.set_result(error.code())
            return
        if not self.closed.done():
            self.closed.set_result(await self.call.code())

    def _record(self, event: pb.Event) -> None:
        invocation = event.invocation_id
        events = self.events.setdefault(invocation, [])
        events.append(event)
        name = kind(event)
        last_step = self._step_counts.get(invocation, 1) - 1
        finished = name in ("rejected", "failed", "cancelled") or (name == "completed" and event.step == last_step)
        done = self._done.get(invocation)
        if finished and done is not None and not done.done():
            done.set_result(events)

    async def execute(
        self,
        invocation_id: int,
        steps: Iterable[pb.Step],
        execution_id: str = "exec-1",
        *,
        credits: Mapping[tuple[int, str], int] | None = None,  # noqa: A002 because the ABI names them so
        credits_first: bool = False,
    ) -> None:
        """Sends an Execute; ``credits`` (by step and stream output port) go in the same request, after it (or
        before it with ``credits_first``), as the host sends a stream output's first window."""
        steps = list(steps)
        self._step_counts[invocation_id] = len(steps)
        self._done[invocation_id] = asyncio.get_running_loop().create_future()
        command = pb.Command(execute=pb.Execute(invocation_id=invocation_id, execution_id=execution_id, steps=steps))
        grants = [
            pb.Command(credit=pb.Credit(invocation_id=invocation_id, step=index, port=port, credits=count))
            for (index, port), count in (credits or {}).items()
        ]
        commands = [*grants, command] if credits_first else [command, *grants]
        await self.call.write(pb.SessionRequest(commands=commands))

    async def credit(self, invocation_id: int, step: int, port: str, items: int) -> None:
        """Grants ``items`` more items on a stream output of a step."""
        command = pb.Command(credit=pb.Credit(invocation_id=invocation_id, step=step, port=port, credits=items))
        await self.call.write(pb.SessionRequest(commands=[command]))

    async def send_items(
        self,
        invocation_id: int,
        step: int,
        port: str,
        items: Iterable[pb.Value] = (),
        *,
        end: bool = False,
        failure: pb.Failure | None = None,
    ) -> None:
        """Forwards items (and the end, or a failure) of a step's stream input."""
        message = pb.StreamItems(invocation_id=invocation_id, step=step, port=port, items=list(items), end=end)
        if failure is not None:
            message.failure.CopyFrom(failure)
        await self.call.write(pb.SessionRequest(commands=[pb.Command(stream_items=message)]))

    def of_kind(self, invocation_id: int, name: str) -> list[pb.Event]:
        """The events of one kind the invocation has sent so far."""
        return [event for event in self.events.get(invocation_id, []) if kind(event) == name]

    def granted(self, invocation_id: int, step: int, port: str) -> int:
        """The credits the runtime has granted so far on a stream input of a step."""
        return sum(
            event.credit.credits
            for event in self.of_kind(invocation_id, "credit")
            if event.step == step and event.credit.port == port
        )

    async def wait_until(self, condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
        """Waits until ``condition`` holds for the events received so far."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the condition did not hold in time")
            await asyncio.sleep(0.005)

    async def settle(self) -> None:
        """Waits until the runtime has nothing more to say for now: a ping through the stream, answered by a
        rejection, proves that every event sent before it has arrived."""
        self._pings += 1
        invocation_id = 2**63 + self._pings
        self._step_counts[invocation_id] = 0
        self._done[invocation_id] = asyncio.get_running_loop().create_future()
        command = pb.Command(execute=pb.Execute(invocation_id=invocation_id, steps=[]))
        await self.call.write(pb.SessionRequest(commands=[command]))
        await self.finished(invocation_id)

    async def execute_many(self, invocations: Mapping[int, Iterable[pb.Step]]) -> None:
        """Sends several Execute commands in one SessionRequest."""
        commands: list[pb.Command] = []
        for invocation_id, given in invocations.items():
            steps = list(given)
            self._step_counts[invocation_id] = len(steps)
            self._done[invocation_id] = asyncio.get_running_loop().create_future()
            commands.append(pb.Command(execute=pb.Execute(invocation_id=invocation_id, steps=steps)))
        await self.call.write(pb.SessionRequest(commands=commands))

    async def cancel(self, invocation_id: int, reason: str = "user cancelled", grace_ms: int = 2000) -> None:
        command = pb.Command(cancel=pb.Cancel(invocation_id=invocation_id, reason=reason, grace_ms=grace_ms))
        await self.call.write(pb.SessionRequest(commands=[command]))

    async def finished(self, invocation_id: int, timeout_s: float = 20.0) -> list[pb.Event]:
        """The invocation's events once its terminal event arrived."""
        return await asyncio.wait_for(asyncio.shield(self._done[invocation_id]), timeout_s)

    async def run(self, invocation_id: int, *steps: pb.Step, timeout_s: float = 20.0) -> list[pb.Event]:
        await self.execute(invocation_id, steps)
        return await self.finished(invocation_id, timeout_s)

    async def wait_for_kind(self, invocation_id: int, name: str, timeout_s: float = 10.0) -> pb.Event:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for event in self.events.get(invocation_id, []):
                if kind(event) == name:
                    return event
            await asyncio.sleep(0.005)
        raise TimeoutError(f"no {name} event for invocation {invocation_id}")


@dataclass
class Client:
    stub: pb_grpc.RuntimeServiceAsyncStub
    metadata: tuple[tuple[str, str], ...]

    @asynccontextmanager
    async def session(self) -> AsyncGenerator[SessionClient]:
        call = self.stub.Session(metadata=self.metadata)
        client = SessionClient(call)
        try:
            yield client
        finally:
            call.cancel()
            client.reader.cancel()


@asynccontextmanager
async def connect(runtime: RuntimeProcess, token: str | None = TOKEN) -> AsyncGenerator[Client]:
    channel = grpc.aio.insecure_channel(f"unix:{runtime.address}")
    try:
        metadata = (("conductor-token", token),) if token is not None else ()
        yield Client(pb_grpc.RuntimeServiceStub(channel), metadata)
    finally:
        await channel.close()
