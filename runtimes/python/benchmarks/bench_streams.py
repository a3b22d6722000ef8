"""Measures stream outputs of the Python runtime over the Session stream, against a floor measured in the same run.

    runtimes/python/.venv/bin/python runtimes/python/benchmarks/bench_streams.py [--items 20000] [--rows 2000000]

Prints:
- JSON items: ``conformance.count`` streaming ``--items`` integers to a grpc.aio client that grants credits 32 at a
  time as it reads (the host's window of 64); the floor is the same generator with each item checked and encoded
  in-process, no session;
- Arrow batches: ``py.batches`` streaming ``--rows`` rows in batches of 65 536 rows, rows/s and MB/s of Arrow IPC;
  the floor is the same batches made and IPC-encoded in-process.

Timings depend on the machine and its load; nothing asserts on them. ``CONDUCTOR_BENCH_SMOKE=1`` makes the runs tiny.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

from conductor_runtime import _tables
from conductor_runtime._values import encode_json
from conductor_runtime.gen.conductor.runtime.v1 import runtime_pb2 as pb
from harness import RuntimeProcess, connect, kind, step
from stream_nodes import batches

BATCH_ROWS = 65_536
WINDOW = 64


async def stream_over_session(runtime: RuntimeProcess, invocation_id: int, built: pb.Step, port: str) -> int:
    """Runs one streaming step, granting credits as the host does; returns the bytes of the items received."""
    received = 0
    size = 0
    async with connect(runtime) as client:
        call = client.stub.Session(metadata=client.metadata)
        execute = pb.Command(execute=pb.Execute(invocation_id=invocation_id, steps=[built]))
        grant = pb.Command(credit=pb.Credit(invocation_id=invocation_id, step=0, port=port, credits=WINDOW))
        await call.write(pb.SessionRequest(commands=[execute, grant]))
        since_grant = 0
        while True:
            response = await call.read()
            assert isinstance(response, pb.SessionResponse)
            names = [kind(event) for event in response.events]
            for event in response.events:
                if kind(event) == "chunk":
                    received += 1
                    since_grant += 1
                    value = event.chunk.value
                    size += value.blob.size if value.HasField("blob") else value.ByteSize()
            if since_grant >= WINDOW // 2:
                more = pb.Credit(invocation_id=invocation_id, step=0, port=port, credits=since_grant)
                await call.write(pb.SessionRequest(commands=[pb.Command(credit=more)]))
                since_grant = 0
            if any(name in ("completed", "failed", "cancelled", "rejected") for name in names):
                assert "completed" in names, response
                break
        call.cancel()
    return size


def numbers(n: int) -> Iterator[int]:
    """The generator ``conformance.count`` streams, without the runtime: the floor's items."""
    yield from range(n)


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser()
    smoke = os.environ.get("CONDUCTOR_BENCH_SMOKE") == "1"
    parser.add_argument("--items", type=int, default=200 if smoke else 20_000)
    parser.add_argument("--rows", type=int, default=100_000 if smoke else 2_000_000)
    arguments = parser.parse_args()
    items: int = arguments.items
    rows: int = arguments.rows

    floor_items = timed(lambda: [encode_json(item) for item in numbers(items)])
    floor_rows = timed(lambda: [_tables.to_ipc(batch) for batch in batches(rows, BATCH_ROWS)])

    runtime = RuntimeProcess(modules=["conductor_runtime.conformance", "stream_nodes"]).start()
    try:
        started = time.perf_counter()
        await stream_over_session(runtime, 1, step("conformance.count", inputs={"n": items}), "items")
        session_items = time.perf_counter() - started
        started = time.perf_counter()
        built = step("py.batches", inputs={"rows": rows, "batchRows": BATCH_ROWS})
        size = await stream_over_session(runtime, 2, built, "batches")
        session_rows = time.perf_counter() - started
    finally:
        runtime.stop()

    print(f"JSON items:    {items / session_items:12,.0f} items/s   floor {items / floor_items:12,.0f} items/s")
    print(f"Arrow batches: {rows / session_rows:12,.0f} rows/s    floor {rows / floor_rows:12,.0f} rows/s")
    print(f"               {size / session_rows / 1e6:12,.1f} MB/s of IPC ({size / 1e6:,.1f} MB)")


if __name__ == "__main__":
    asyncio.run(main())
