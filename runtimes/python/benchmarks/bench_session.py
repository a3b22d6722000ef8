"""Measures the runtime's cold start and the round trip of an invocation over the Session stream.

    runtimes/python/.venv/bin/python runtimes/python/benchmarks/bench_session.py [--rounds 2000] [--starts 10]

Prints medians (and p90) of:
- cold start: spawn → handshake line on stdout → first Handshake RPC answered;
- one-step ``py.add-one`` invocation: Execute written → terminal event read, from a grpc.aio client;
- a 10-step ``py.add-one`` chain in one invocation.

Timings depend on the machine and its load; nothing asserts on them.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conductor_runtime.gen.conductor.runtime.v1 import runtime_pb2 as pb
from harness import RuntimeProcess, connect, ref, step


def summary(name: str, samples_s: list[float]) -> str:
    ordered = sorted(samples_s)
    median = statistics.median(ordered) * 1e6
    p90 = ordered[int(len(ordered) * 0.9)] * 1e6
    unit, scale = ("ms", 1e3) if median > 10_000 else ("µs", 1.0)
    return f"{name:<44} median {median / scale:8.1f} {unit}   p90 {p90 / scale:8.1f} {unit}   (n={len(ordered)})"


async def cold_start(starts: int) -> None:
    to_line: list[float] = []
    to_handshake: list[float] = []
    for _ in range(starts):
        runtime = RuntimeProcess(modules=["sales_nodes"]).start()
        try:
            async with connect(runtime) as client:
                await client.stub.Handshake(pb.HandshakeRequest(abi_versions=[1]), metadata=client.metadata)
                to_handshake.append(time.perf_counter() - runtime.spawned_at)
            to_line.append(runtime.spawn_to_line_s)
        finally:
            runtime.stop()
    print(summary("cold start: spawn → handshake line", to_line))
    print(summary("cold start: spawn → first Handshake answered", to_handshake))


async def round_trips(rounds: int) -> None:
    runtime = RuntimeProcess(modules=["sales_nodes"]).start()
    try:
        async with connect(runtime) as client:
            call = client.stub.Session(metadata=client.metadata)
            one = [step("py.add-one", node_id="n0", inputs={"x": 0})]
            chain = one + [step("py.add-one", node_id=f"n{i}", inputs={"x": ref(i - 1, "x")}) for i in range(1, 10)]
            for name, steps in (
                ("one-step py.add-one round trip", one),
                ("10-step py.add-one chain round trip", chain),
            ):
                samples: list[float] = []
                last = len(steps) - 1
                for invocation_id in range(1, rounds + 1):
                    request = pb.SessionRequest(
                        commands=[pb.Command(execute=pb.Execute(invocation_id=invocation_id, steps=steps))]
                    )
                    started = time.perf_counter()
                    await call.write(request)
                    done = False
                    while not done:
                        response = await call.read()
                        assert isinstance(response, pb.SessionResponse)
                        for event in response.events:
                            kind = event.WhichOneof("kind")
                            assert kind in ("started", "completed"), event
                            done = done or (kind == "completed" and event.step == last)
                    samples.append(time.perf_counter() - started)
                warm = samples[len(samples) // 10 :]  # the first tenth warms up caches and the JIT-less paths
                print(summary(name, warm))
            call.cancel()
            await asyncio.sleep(0)
    finally:
        runtime.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--starts", type=int, default=10)
    arguments = parser.parse_args()
    await cold_start(arguments.starts)
    await round_trips(arguments.rounds)


if __name__ == "__main__":
    asyncio.run(main())
