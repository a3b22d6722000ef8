import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Summary, summarize } from "./stats.js";

/**
 * Measures the raw Unix-socket round trip between this process and a child process (100-byte messages, one in
 * flight): the floor every cross-process dispatch figure is divided by.
 */
export async function measureUdsFloor(options: { warmup: number; iterations: number }): Promise<Summary> {
  const path = join(mkdtempSync(join(tmpdir(), "bench-")), "echo.sock");
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL("./uds-echo-server.js", import.meta.url)), path],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
  const socket = connect(path);
  socket.setNoDelay(true);
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  const message = Buffer.alloc(100, 7);
  const roundTrip = () =>
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
    });
  for (let i = 0; i < options.warmup; i++) await roundTrip();
  const samples: number[] = [];
  for (let i = 0; i < options.iterations; i++) {
    const started = performance.now();
    await roundTrip();
    samples.push((performance.now() - started) * 1000);
  }
  socket.destroy();
  child.stdin!.end();
  return summarize(samples);
}
