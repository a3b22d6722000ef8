/**
 * The host against a fake runtime with named failure modes: for each, the host stays up (an in-process blueprint
 * still runs) and reports a clear error naming the runtime and what went wrong.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Conductor, ConductorError, createConductor } from "@conductor/host";
import { ENV, RUNTIME_COOKIE } from "@conductor/sdk/protocol";
import { afterEach, describe, expect, it } from "vitest";
import * as mathNodes from "../fixtures/nodes/math-nodes.js";

const fakeRuntime = fileURLToPath(new URL("../fixtures/fake-runtime.ts", import.meta.url));
let conductor: Conductor | undefined;
const notices: string[] = [];

async function withFake(mode: string, startTimeoutMs = 5_000): Promise<Conductor> {
  notices.length = 0;
  conductor = await createConductor({
    builtinNodes: false,
    nodes: Object.values(mathNodes),
    startTimeoutMs,
    onNotice: (message) => notices.push(message),
    project: {
      dir: process.cwd(),
      blueprints: [],
      nodes: [],
      runtimes: {
        fake: { kind: "command", command: [process.execPath, fakeRuntime], env: { FAKE_RUNTIME_MODE: mode } },
      },
    },
  });
  return conductor;
}

async function startError(mode: string, startTimeoutMs?: number): Promise<ConductorError> {
  const host = await withFake(mode, startTimeoutMs);
  const error = await host.nodeTypes().then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ConductorError);
  return error as ConductorError;
}

async function expectHostStillRuns(host: Conductor): Promise<void> {
  const result = await host.run({
    conductor: "blueprint/v1",
    nodes: { a: { type: "test.add-one", inputs: { x: { value: 1 } } } },
    outputs: { x: "a.x" },
  });
  expect(result.outputs.x).toBe(2);
}

afterEach(async () => {
  await conductor?.close();
  conductor = undefined;
});

describe("the host against a misbehaving runtime", () => {
  it("bad-handshake: quotes the malformed handshake line", async () => {
    const error = await startError("bad-handshake");
    expect(error.code).toBe("runtime_start_failed");
    expect(error.message).toContain(
      'runtime "fake" printed a bad handshake line: expected "network": "unix" or "tcp", found "carrier-pigeon"',
    );
    await expectHostStillRuns(conductor!);
  });

  it("wrong-abi-version: names both ABI versions and who should act", async () => {
    const error = await startError("wrong-abi-version");
    expect(error.code).toBe("abi_mismatch");
    expect(error.message).toBe(
      'runtime "fake" speaks ABI 2, host expects 1; upgrade the runtime or the host',
    );
    await expectHostStillRuns(conductor!);
  });

  it("exit-on-start: gives the exit code and the runtime's last stderr lines", async () => {
    const error = await startError("exit-on-start");
    expect(error.code).toBe("runtime_start_failed");
    expect(error.message).toMatch(
      /^runtime "fake" exited with code 1 before printing its handshake line \(command: .*fake-runtime\.ts\); its last stderr lines:\n {4}fake runtime: fatal: cannot open config file fake\.toml/,
    );
    await expectHostStillRuns(conductor!);
  });

  it("slow-start: gives up after the start timeout", async () => {
    const error = await startError("slow-start", 600);
    expect(error.message).toMatch(/^runtime "fake" printed no handshake line within 600 ms/);
    await expectHostStillRuns(conductor!);
  });

  it("garbage-frames: reports that the handshake did not complete", async () => {
    const error = await startError("garbage-frames", 5_000);
    expect(error.code).toBe("runtime_start_failed");
    expect(error.message).toMatch(/^runtime "fake" at unix:.*fake\.sock did not complete the handshake/);
    await expectHostStillRuns(conductor!);
  });

  it("hang: times out a runtime that accepts connections but never answers", async () => {
    // The start timeout bounds both the handshake line and the Handshake RPC: generous for a loaded machine. The
    // fake never answers, so the start ends only because the timeout ended it.
    const error = await startError("hang", 5_000);
    expect(error.message).toMatch(/did not complete the handshake/);
    await expectHostStillRuns(conductor!);
  });

  it("stderr-noise: tolerates a banner before the handshake line and noise on stderr", async () => {
    const host = await withFake("stderr-noise");
    const result = await host.run({
      conductor: "blueprint/v1",
      nodes: { sum: { type: "conformance.add", inputs: { a: { value: 20 }, b: { value: 22 } } } },
      outputs: { sum: "sum.sum" },
    });
    expect(result.outputs.sum).toBe(42);
    expect(notices).toContain(
      'runtime "fake" printed before its handshake line: fake runtime 0.0.1 starting up...',
    );
  });

  it("crash-mid-node: fails the running node as runtime.lost and the next run works", async () => {
    const host = await withFake("healthy");
    const crashed = await host.run({
      conductor: "blueprint/v1",
      nodes: { boom: { type: "conformance.crash" } },
    });
    expect(crashed.failure).toMatchObject({ nodeId: "boom", type: "runtime.lost", retryable: true });
    expect(notices.some((n) => n.startsWith('runtime "fake" exited with code 3; restarting in'))).toBe(true);
    const again = await host.run({
      conductor: "blueprint/v1",
      nodes: { sum: { type: "conformance.add", inputs: { a: { value: 1 }, b: { value: 2 } } } },
      outputs: { sum: "sum.sum" },
    });
    expect(again.outputs.sum).toBe(3);
  });

  it("crash loop: opens the breaker after repeated crashes and says why", async () => {
    const host = await withFake("healthy");
    for (let i = 0; i < 5; i++) {
      const result = await host.run({
        conductor: "blueprint/v1",
        nodes: { boom: { type: "conformance.crash" } },
      });
      expect(result.status).toBe("failed");
    }
    const result = await host.run({
      conductor: "blueprint/v1",
      nodes: { sum: { type: "conformance.add", inputs: { a: { value: 1 }, b: { value: 2 } } } },
    });
    expect(result.failure).toMatchObject({ type: "runtime.broken", retryable: false });
    expect(result.failure!.message).toMatch(/^runtime "fake" is broken: it crashed 5 times within 60 s/);
    await expectHostStillRuns(host);
  });

  it("ignore-cancel: ends the execution after the grace period and restarts the runtime", async () => {
    const host = await withFake("ignore-cancel");
    const prepared = await host.prepare({
      conductor: "blueprint/v1",
      nodes: { nap: { type: "conformance.sleep", config: { ms: 60_000 } } },
    });
    const handle = prepared.start();
    await new Promise((resolve) => setTimeout(resolve, 200));
    handle.cancel("stop");
    const result = await handle.result;
    expect(result.status).toBe("cancelled");
    expect(result.nodes.nap!.status).toBe("cancelled");
    expect(notices.some((n) => n.includes('did not stop node "nap" after a cancel; restarting it'))).toBe(
      true,
    );
  });

  it("attaches to a runtime started by hand (CONDUCTOR_REATTACH) instead of spawning one", async () => {
    const socketDir = await mkdtemp(join(tmpdir(), "reattach-"));
    const manual = spawn(process.execPath, [fakeRuntime], {
      env: {
        ...process.env,
        [ENV.cookie]: RUNTIME_COOKIE,
        [ENV.socketDir]: socketDir,
        [ENV.token]: "debug-token",
        [ENV.runtimeName]: "fake",
      },
      stdio: ["pipe", "pipe", "inherit"],
    });
    const line = await new Promise<string>((resolve) =>
      manual.stdout.once("data", (chunk: Buffer) => resolve(chunk.toString())),
    );
    const { address } = JSON.parse(line) as { address: string };
    process.env[ENV.reattach] = JSON.stringify({ fake: { address, token: "debug-token" } });
    try {
      conductor = await createConductor({
        builtinNodes: false,
        project: {
          dir: process.cwd(),
          blueprints: [],
          nodes: [],
          // Not spawnable: only attaching can make this work.
          runtimes: { fake: { kind: "command", command: ["/nonexistent/runtime"] } },
        },
      });
      const result = await conductor.run({
        conductor: "blueprint/v1",
        nodes: { sum: { type: "conformance.add", inputs: { a: { value: 2 }, b: { value: 3 } } } },
        outputs: { sum: "sum.sum" },
      });
      expect(result.outputs.sum).toBe(5);
    } finally {
      delete process.env[ENV.reattach];
      manual.stdin.end();
      await new Promise((resolve) => manual.once("exit", resolve));
      await rm(socketDir, { recursive: true, force: true });
    }
  });
});
