/**
 * The host against a fake runtime with named failure modes: for each, the host stays up (an in-process blueprint
 * still runs) and reports a clear error naming the runtime and what went wrong.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Conductor,
  ConductorError,
  createConductor,
  type ExecutionEvent,
  type SupervisionOptions,
} from "@conductor/host";
import { ENV, RUNTIME_COOKIE } from "@conductor/sdk/protocol";
import { afterEach, describe, expect, it } from "vitest";
import * as mathNodes from "../fixtures/nodes/math-nodes.js";

const fakeRuntime = fileURLToPath(new URL("../fixtures/fake-runtime.ts", import.meta.url));
let conductor: Conductor | undefined;
const notices: string[] = [];
const stateDirs: string[] = [];

interface FakeOptions {
  startTimeoutMs?: number;
  supervision?: SupervisionOptions;
  /** More environment for the fake (FAKE_RUNTIME_DIR is set to a fresh directory). */
  env?: Record<string, string>;
  onRuntimeStderr?: (runtime: string, line: string) => void;
  onRuntimeStdout?: (runtime: string, line: string) => void;
  /** More runtimes of the project besides "fake", by name and mode. */
  others?: Record<string, string>;
}

async function withFake(mode: string, options: FakeOptions | number = {}): Promise<Conductor> {
  const settings = typeof options === "number" ? { startTimeoutMs: options } : options;
  notices.length = 0;
  const stateDir = await mkdtemp(join(tmpdir(), "fake-runtime-"));
  stateDirs.push(stateDir);
  const runtime = (name: string, runtimeMode: string) => ({
    kind: "command" as const,
    command: [process.execPath, fakeRuntime],
    env: {
      FAKE_RUNTIME_MODE: runtimeMode,
      FAKE_RUNTIME_DIR: join(stateDir, name),
      ...settings.env,
    },
  });
  for (const name of ["fake", ...Object.keys(settings.others ?? {})]) {
    await mkdir(join(stateDir, name));
  }
  conductor = await createConductor({
    builtinNodes: false,
    nodes: Object.values(mathNodes),
    // Generous: on a loaded machine the fake (TypeScript run by Node) can take seconds to print its handshake line.
    startTimeoutMs: settings.startTimeoutMs ?? 15_000,
    ...(settings.supervision === undefined ? {} : { supervision: settings.supervision }),
    ...(settings.onRuntimeStderr === undefined ? {} : { onRuntimeStderr: settings.onRuntimeStderr }),
    ...(settings.onRuntimeStdout === undefined ? {} : { onRuntimeStdout: settings.onRuntimeStdout }),
    onNotice: (message) => notices.push(message),
    project: {
      dir: process.cwd(),
      blueprints: [],
      nodes: [],
      runtimes: {
        fake: runtime("fake", mode),
        ...Object.fromEntries(
          Object.entries(settings.others ?? {}).map(([name, otherMode]) => [name, runtime(name, otherMode)]),
        ),
      },
    },
  });
  return conductor;
}

const addOnFake = (runtime?: string) =>
  ({
    conductor: "blueprint/v1",
    nodes: {
      sum: {
        type: "conformance.add",
        ...(runtime === undefined ? {} : { runtime }),
        inputs: { a: { value: 20 }, b: { value: 22 } },
      },
    },
    outputs: { sum: "sum.sum" },
  }) as const;

/** The error a blueprint needing the fake gets when the fake does not start; the only error it gets. */
async function startError(mode: string, startTimeoutMs?: number): Promise<ConductorError> {
  const host = await withFake(mode, startTimeoutMs);
  const error = await host.prepare(addOnFake()).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ConductorError);
  // The start failure is the cause; its node types are unknown, so "unknown node type" would only mislead.
  expect((error as ConductorError).message).not.toContain("unknown node type");
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

/** Waits, in bounded steps, until `check` holds; fails the test with `what` when it never does. */
async function eventually(what: string, check: () => boolean, limitMs = 30_000): Promise<void> {
  for (let waited = 0; waited < limitMs; waited += 25) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`gave up waiting until ${what}`);
}

const healthOf = (host: Conductor, name = "fake") =>
  host.runtimeHealth().find((entry) => entry.name === name);

afterEach(async () => {
  await conductor?.close();
  conductor = undefined;
  for (const dir of stateDirs.splice(0)) await rm(dir, { recursive: true, force: true });
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
    const error = await startError("garbage-frames", 15_000);
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
    const result = await host.run(addOnFake());
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
    expect(notices).toContain(
      'runtime "fake" did not stop node "nap" within 2000 ms of its cancellation; restarting it so nothing keeps running',
    );
  });

  it("a runtime that does not start: the others serve, it is broken in health, and executions needing it say why", async () => {
    const host = await withFake("exit-on-start", { others: { good: "healthy" } });
    // Starts every runtime, as `conductor serve` does; the broken one is left out, not thrown.
    const types = await host.nodeTypes();
    expect(types.some((entry) => entry.runtime === "good" && entry.nodeType.type === "conformance.add")).toBe(
      true,
    );
    expect(healthOf(host)).toMatchObject({ name: "fake", state: "broken", nodeTypes: 0 });
    expect(healthOf(host)!.reason).toMatch(
      /^runtime "fake" exited with code 1 before printing its handshake line .*; fix the runtime: the host tries to start it again in 30 s$/s,
    );
    expect(healthOf(host, "good")).toMatchObject({ state: "ok", restarts: 0 });
    expect((await host.run(addOnFake("good"))).outputs.sum).toBe(42);
    const error = await host.run(addOnFake("fake")).then(
      () => undefined,
      (thrown: unknown) => thrown as ConductorError,
    );
    expect(error?.code).toBe("runtime_start_failed");
    expect(error?.message).toMatch(/^runtime "fake" exited with code 1 before printing its handshake line/);
    expect(error?.message).not.toContain("does not serve");
  });

  it("a broken runtime half-opens after its cool-down and serves again once it starts", async () => {
    const host = await withFake("exit-on-first-start", {
      supervision: { breaker: { coolDownMs: 50 } },
    });
    await host.nodeTypes();
    await eventually("the runtime is back", () => healthOf(host)?.state === "ok");
    expect(notices.map((notice) => notice.replace(/ \(pid \d+\)$/, ""))).toEqual([
      expect.stringMatching(/^runtime "fake" is broken: runtime "fake" exited with code 1 before printing/),
      'runtime "fake": trying to start it again after a cool-down',
      'runtime "fake" is back',
    ]);
    expect((await host.run(addOnFake())).outputs.sum).toBe(42);
  });

  it("never-handshake-on-restart: failed starts count as crashes, so the breaker opens instead of looping", async () => {
    const host = await withFake("never-handshake-on-restart", {
      startTimeoutMs: 8_000,
      supervision: { breaker: { maxCrashes: 2 } },
    });
    const crashed = await host.run({
      conductor: "blueprint/v1",
      nodes: { boom: { type: "conformance.crash" } },
    });
    expect(crashed.failure).toMatchObject({ type: "runtime.lost" });
    await eventually("the breaker opens", () => healthOf(host)?.state === "broken", 60_000);
    expect(healthOf(host)!.reason).toMatch(
      /^it crashed 1 time within 60 s and 1 start failed in a row \(last: runtime "fake" printed no handshake line within 8000 ms/,
    );
    const refused = await host.run(addOnFake());
    expect(refused.failure).toMatchObject({ type: "runtime.broken", retryable: false });
    expect(refused.failure!.message).toMatch(/^runtime "fake" is broken: it crashed 1 time within 60 s/);
  });

  it("ignore-cancel with a timeout: the host restarts the runtime, and no retry runs beside a timed-out attempt", async () => {
    const host = await withFake("ignore-cancel", { supervision: { cancelGraceMs: 200 } });
    const events: ExecutionEvent[] = [];
    const result = await host.run(
      {
        conductor: "blueprint/v1",
        nodes: {
          nap: {
            type: "conformance.sleep",
            config: { ms: 60_000 },
            timeoutMs: 300,
            retry: { maxAttempts: 3, initialDelayMs: 0, jitter: false },
          },
        },
      },
      {},
      { onEvent: (event) => events.push(event) },
    );
    expect(result.status).toBe("failed");
    expect(result.failure).toMatchObject({ nodeId: "nap", type: "timeout", retryable: true });
    expect(result.failure!.message).toBe(
      'node "nap" (conformance.sleep) timed out after 300 ms; it did not stop within 200 ms of its cancellation, so runtime "fake" was restarted',
    );
    // Each attempt ended (failed) before the next started, each in a new process, none finding another running.
    const story = events
      .filter(
        (event) => event.type === "node.started" || event.type === "node.failed" || event.type === "node.log",
      )
      .map((event) =>
        event.type === "node.log"
          ? event.message.replace(/pid \d+/, "pid P")
          : `${event.type} ${"attempt" in event ? event.attempt : ""}`,
      );
    expect(story).toEqual([
      "node.started 1",
      "attempt 1 in pid P; earlier attempts still running: none",
      "node.failed 1",
      "node.started 2",
      "attempt 2 in pid P; earlier attempts still running: none",
      "node.failed 2",
      "node.started 3",
      "attempt 3 in pid P; earlier attempts still running: none",
      "node.failed 3",
    ]);
    const pids = events.flatMap((event) =>
      event.type === "node.log" ? [/pid (\d+)/.exec(event.message)![1]] : [],
    );
    expect(new Set(pids).size).toBe(3);
    await eventually("the runtime is back", () => healthOf(host)?.state === "ok");
    expect(healthOf(host)).toMatchObject({ state: "ok", restarts: 3 });
  });

  it("freeze: a runtime that stops answering liveness pings is killed and restarted; its step fails as runtime.lost", async () => {
    // A timeout a loaded machine's healthy runtime still meets: the restarted runtime must not be taken for frozen.
    const host = await withFake("freeze", { supervision: { pingIntervalMs: 200, pingTimeoutMs: 1_500 } });
    const frozen = await host.run({
      conductor: "blueprint/v1",
      nodes: { nap: { type: "conformance.sleep", config: { ms: 10 } } },
    });
    expect(frozen.failure).toMatchObject({ nodeId: "nap", type: "runtime.lost", retryable: true });
    expect(frozen.failure!.message).toMatch(
      /^runtime "fake" was killed by the host while running node "nap", because it stopped answering: no answer to the host's liveness ping within 1500 ms, or a broken protocol \(its connection dropped with ".*" while its process still ran\); it restarts/,
    );
    expect((await host.run(addOnFake())).outputs.sum).toBe(42);
    expect(healthOf(host)).toMatchObject({ state: "ok", restarts: 1 });
  });

  it("healthy under frequent liveness pings: an idle runtime is not taken for a frozen one", async () => {
    const host = await withFake("healthy", { supervision: { pingIntervalMs: 20, pingTimeoutMs: 5_000 } });
    expect((await host.run(addOnFake())).outputs.sum).toBe(42);
    // Some fifty pings while the session is idle.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await host.run(addOnFake())).outputs.sum).toBe(42);
    expect(healthOf(host)).toMatchObject({ state: "ok", restarts: 0 });
    expect(notices).toEqual([]);
  });

  it("huge-line: a stderr line of 64 MiB without a newline is passed on as its head and the count of bytes cut", async () => {
    const stderr: string[] = [];
    const host = await withFake("huge-line", { onRuntimeStderr: (_runtime, line) => stderr.push(line) });
    expect((await host.run(addOnFake())).outputs.sum).toBe(42);
    expect(stderr.slice(0, 2)).toEqual([
      `${"x".repeat(16 * 1024)} [… ${64 * 1024 * 1024 - 16 * 1024} more bytes of this line cut]`,
      "fake runtime: after the huge line",
    ]);
  });

  it("stdout-after-handshake: the lines are passed on marked as stdout, with one warning", async () => {
    const stdout: string[] = [];
    const host = await withFake("stdout-after-handshake", {
      onRuntimeStdout: (runtime, line) => stdout.push(`${runtime}: ${line}`),
    });
    expect((await host.run(addOnFake())).outputs.sum).toBe(42);
    await eventually("both lines arrived", () => stdout.length === 2);
    expect(stdout).toEqual(["fake: fake runtime: debug print on stdout", "fake: fake runtime: another one"]);
    expect(notices).toEqual([
      'runtime "fake" wrote to stdout after its handshake line: "fake runtime: debug print on stdout"; stdout is reserved for the handshake line, so its output is passed on marked as stdout; make the runtime log to stderr',
    ]);
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

describe("a runtime that announces neither values.arrow nor values.blob", () => {
  const produceThenEcho = (kind: "arrow" | "large", echoOn: string) =>
    ({
      conductor: "blueprint/v1",
      nodes: {
        make: { type: "conformance.produce", runtime: "full", config: { kind, size: 3_000_000 } },
        echo: { type: "conformance.echo", runtime: echoOn, inputs: { value: { from: "make.value" } } },
      },
      outputs: { value: "echo.value" },
    }) as const;

  it("is never sent an Arrow value: the step fails value.unsupported naming the runtime, node and port", async () => {
    const host = await withFake("no-value-features", { others: { full: "healthy" } });
    // The control: the same table reaches a runtime that announced values.arrow.
    const control = await host.run(produceThenEcho("arrow", "full"));
    expect(control.status).toBe("completed");
    const result = await host.run(produceThenEcho("arrow", "fake"));
    expect(result.status).toBe("failed");
    expect(result.failure).toMatchObject({ nodeId: "echo", type: "value.unsupported", retryable: false });
    expect(result.failure!.message).toContain('input "value" of node "echo"');
    expect(result.failure!.message).toContain('runtime "fake" did not announce "values.arrow"');
  });

  it("gets a value that another runtime wrote as a blob, with every byte", async () => {
    const host = await withFake("no-value-features", { others: { full: "healthy" } });
    // 3 MB: above the 1 MiB inline limit, so "full" writes it as a blob. That the host sends it to "fake" inline
    // is seen in sdk-ts/src/protocol/value-features.test.ts (the SDK in the fake would also read a reference).
    const result = await host.run(produceThenEcho("large", "fake"));
    expect(result.status).toBe("completed");
    const value = result.outputs.value as Uint8Array;
    expect(value.byteLength).toBe(3_000_000);
    expect(value.every((byte, i) => byte === i % 251)).toBe(true);
  });
});
