"""The Python transport alone: a ``grpc.aio`` server with one bidirectional stream method that writes back every
message it reads, as bytes (no protobuf), on the Unix socket named by the first argument. The dispatch benchmarks
report a round trip through it beside the raw socket floor (``bench/src/floor.ts``)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import grpc


async def echo(
    requests: AsyncIterator[bytes], _context: grpc.aio.ServicerContext[bytes, bytes]
) -> AsyncIterator[bytes]:
    async for message in requests:
        yield message


async def main(path: str) -> None:
    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler("bench.Echo", {"Echo": grpc.stream_stream_rpc_method_handler(echo)})
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"unix:{path}")
    await server.start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    # The benchmark closes stdin when it is done.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.stop(None)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
