import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Summary, summarize } from "./stats.js";

/**
 * The floor: the round trip of a 100-byte message over a raw Unix socket between this process and a child process
 * (one in flight), the least any cross-process dispatch can cost here.
 */
export interface UdsFloor {
  roundTrip(): Promise<void>;
  close(): void;
}

export async function openUdsFloor(): Promise<UdsFloor> {
  const path = join(mkdtempSync(join(tmpdir(), "bench-")), "echo.sock");
  const child: ChildProcess = spawn(
    process.execPath,
    [fileURLToPath(new URL("./uds-echo-server.js", import.meta.url)), path],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
  const socket: Socket = connect(path);
  socket.setNoDelay(true);
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  const message = Buffer.alloc(100, 7);
  return {
    roundTrip: () =>
      new Promise<void>((resolve) => {
        let received = 0;
        const onData = (chunk: Buffer) => {
          received += chunk.byteLength;
          if (received >= message.byteLength) {
            socket.off("data", onData);
            resolve();
          }
        };
        socket.on("data", onData);
        socket.write(message);
      }),
    close: () => {
      socket.destroy();
      child.stdin!.end();
    },
  };
}

/**
 * A grpc-js bidirectional stream to an echo server in a child process (`grpc-echo-server.ts`, or with
 * `{ python }` the `grpc.aio` one in `bench/python/grpc_echo_server.py` run by that interpreter), over a Unix socket:
 * one 100-byte message each way per round trip, one in flight. What the transport costs before Conductor does
 * anything, to show how much of a dispatch is grpc-js's and how much is Conductor's.
 */
export async function openGrpcEcho(server: "node" | { python: string } = "node"): Promise<UdsFloor> {
  const grpc = (await import("@grpc/grpc-js")).default;
  const path = join(mkdtempSync(join(tmpdir(), "bench-")), "grpc-echo.sock");
  const child: ChildProcess =
    server === "node"
      ? spawn(process.execPath, [fileURLToPath(new URL("./grpc-echo-server.js", import.meta.url)), path], {
          stdio: ["pipe", "pipe", "inherit"],
        })
      : spawn(
          server.python,
          [fileURLToPath(new URL("../python/grpc_echo_server.py", import.meta.url)), path],
          { stdio: ["pipe", "pipe", "inherit"] },
        );
  await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
  const Client = grpc.makeGenericClientConstructor({}, "Echo");
  const client = new Client(`unix:${path}`, grpc.credentials.createInsecure(), { "grpc.enable_retries": 0 });
  const bytes = (value: Buffer) => value;
  const call = client.makeBidiStreamRequest(
    "/bench.Echo/Echo",
    bytes,
    bytes,
  ) as import("@grpc/grpc-js").ClientDuplexStream<Buffer, Buffer>;
  // Closing the stream ends it with a status the benchmark does not need.
  call.on("error", () => {});
  let answered: (() => void) | undefined;
  call.on("data", () => {
    const resolve = answered!;
    answered = undefined;
    resolve();
  });
  const message = Buffer.alloc(100, 7);
  return {
    roundTrip: () =>
      new Promise<void>((resolve) => {
        answered = resolve;
        call.write(message);
      }),
    close: () => {
      call.end();
      client.close();
      child.stdin!.end();
    },
  };
}

/**
 * Measures an operation and the floor in alternating rounds, so that both see the same conditions (on a 2-core
 * machine the floor moves by 3× depending on which cores the processes run on, and that changes over time).
 * Gives the median of each, in microseconds.
 */
export async function againstFloorInterleaved(
  operation: () => Promise<unknown>,
  options: { warmup: number; iterations: number; rounds?: number },
): Promise<{ floor: Summary; operation: Summary }> {
  const floor = await openUdsFloor();
  try {
    const rounds = options.rounds ?? 10;
    const perRound = Math.max(1, Math.ceil(options.iterations / rounds));
    for (let i = 0; i < options.warmup; i++) {
      await floor.roundTrip();
      await operation();
    }
    const floorSamples: number[] = [];
    const operationSamples: number[] = [];
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < perRound; i++) {
        const started = performance.now();
        await floor.roundTrip();
        floorSamples.push((performance.now() - started) * 1000);
      }
      for (let i = 0; i < perRound; i++) {
        const started = performance.now();
        await operation();
        operationSamples.push((performance.now() - started) * 1000);
      }
    }
    return { floor: summarize(floorSamples), operation: summarize(operationSamples) };
  } finally {
    floor.close();
  }
}
