import { crc32 } from "node:zlib";
import type { FailureInfo, InvocationSink, LogLevel } from "@conductor/sdk/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConductorError } from "../errors.js";
import { repositoryPath } from "../package-dir.js";
import type { RuntimeConnection } from "../runtime/runtime-connection.js";
import { loadWasmModules, startWasmRuntime } from "./load-wasm-modules.js";

// The modules are built by scripts/setup-wasm.sh (examples/wasm/build.sh), which scripts/setup.sh runs.
const fixtures = repositoryPath("test", "wasm", "fixtures");
const examples = repositoryPath("examples", "wasm");

type Event =
  | { kind: "completed"; outputs: Record<string, unknown> }
  | { kind: "failed"; failure: FailureInfo }
  | { kind: "cancelled"; reason: string }
  | { kind: "rejected"; failure: FailureInfo };

/** Runs one node and gives how it ended, with the log lines it wrote. */
function invoke(
  runtime: RuntimeConnection,
  nodeType: string,
  inputs: Record<string, unknown> = {},
  options: { config?: unknown; timeoutMs?: number } = {},
): Promise<{ end: Event; logs: { level: LogLevel; message: string }[]; order: string[] }> {
  return new Promise((resolve) => {
    const logs: { level: LogLevel; message: string }[] = [];
    const order: string[] = [];
    const done = (end: Event) => resolve({ end, logs, order });
    const sink: InvocationSink = {
      started: () => order.push("started"),
      log: (_step, level, message) => logs.push({ level, message }),
      progress() {},
      chunk() {},
      heartbeat() {},
      completed: (_step, outputs) => done({ kind: "completed", outputs }),
      failed: (_step, failure) => done({ kind: "failed", failure }),
      cancelled: (_step, reason) => done({ kind: "cancelled", reason }),
      rejected: (failure) => done({ kind: "rejected", failure }),
    };
    runtime.execute(
      {
        invocationId: 1,
        executionId: "test",
        steps: [
          {
            nodeId: "n",
            nodeType,
            attempt: 1,
            config: options.config ?? {},
            inputs: Object.fromEntries(Object.entries(inputs).map(([port, value]) => [port, { value }])),
            timeoutMs: options.timeoutMs ?? 0,
          },
        ],
      },
      sink,
    );
  });
}

describe("the wasm runtime, with misbehaving modules", () => {
  let runtime: RuntimeConnection;
  beforeAll(async () => {
    runtime = await startWasmRuntime(
      "wasm",
      {
        kind: "wasm",
        modules: ["faulty.wasm", "no-abi.wasm"],
        memoryMb: 16,
        timeLimitMs: 2_000,
        maxConcurrency: 2,
      },
      fixtures,
    );
  });
  afterAll(() => runtime.close());

  it("serves the node types its manifests declare, with their schemas", () => {
    expect(runtime.findNodeType("fault.double")?.inputs.map((port) => [port.name, port.schema])).toEqual([
      ["n", '{"type":"integer"}'],
    ]);
    expect(runtime.nodeTypes.map((type) => type.type)).toContain("fault.no-abi");
  });

  it("runs a well-behaved node", async () => {
    const { end, order } = await invoke(runtime, "fault.double", { n: 21 });
    expect(order).toEqual(["started"]);
    expect(end).toEqual({ kind: "completed", outputs: { n: 42 } });
  });

  it("keeps no state from one call to the next (an instance is reused with its memory reset)", async () => {
    const ends = [];
    for (let i = 0; i < 3; i++) ends.push((await invoke(runtime, "fault.count-calls")).end);
    expect(ends).toEqual([1, 1, 1].map((n) => ({ kind: "completed", outputs: { n } })));
  });

  it("refuses an input its schema refuses before the module runs", async () => {
    const { end } = await invoke(runtime, "fault.double", { n: "one" });
    expect(end.kind).toBe("failed");
    expect((end as { failure: FailureInfo }).failure.message).toBe(
      'wasm module "faulty.wasm" (node type "fault.double"): input "n" expected integer, found "one"',
    );
  });

  it("fails a module that traps, naming the module", async () => {
    const { end } = await invoke(runtime, "fault.trap");
    expect(end.kind).toBe("failed");
    const failure = (end as { failure: FailureInfo }).failure;
    expect(failure.type).toBe("wasm.trap");
    expect(failure.message).toMatch(/^wasm module "faulty\.wasm" trapped: unreachable/);
    expect(failure.retryable).toBe(false);
  });

  it("stops a module that loops forever at its time limit by terminating its worker, and serves the next call", async () => {
    const { end } = await invoke(runtime, "fault.spin", {}, { timeoutMs: 300 });
    expect(end.kind).toBe("failed");
    const failure = (end as { failure: FailureInfo }).failure;
    expect(failure.type).toBe("wasm.timeout");
    expect(failure.message).toBe(
      'wasm module "faulty.wasm" ran past its time limit of 300 ms and was stopped (its worker terminated)',
    );
    expect((await invoke(runtime, "fault.double", { n: 1 })).end).toEqual({
      kind: "completed",
      outputs: { n: 2 },
    });
  });

  it("applies the runtime's time limit when the node has no timeout", async () => {
    const { end } = await invoke(runtime, "fault.spin");
    expect((end as { failure: FailureInfo }).failure.message).toContain("its time limit of 2000 ms");
  });

  it("fails a module that exceeds its memory cap, naming the cap", async () => {
    const { end } = await invoke(runtime, "fault.hog");
    expect(end.kind).toBe("failed");
    const failure = (end as { failure: FailureInfo }).failure;
    expect(failure.type).toBe("wasm.memory");
    expect(failure.message).toMatch(
      /^wasm module "faulty\.wasm" trapped \(.*\) with its memory at its cap of 16 MiB/,
    );
    expect(failure.details).toEqual({ module: "faulty.wasm", memoryCapBytes: 16 * 1_048_576 });
  });

  it("fails a module without the ABI's exports, listing what it exports", async () => {
    const { end } = await invoke(runtime, "fault.no-abi");
    const failure = (end as { failure: FailureInfo }).failure;
    expect(failure.type).toBe("wasm.exports");
    expect(failure.message).toBe(
      'wasm module "no-abi.wasm" does not export conductor_alloc (a function (i32) -> i32); it exports memory, _initialize, hello. A Conductor module exports memory, conductor_alloc and one function per node type (docs/webassembly.md)',
    );
  });

  it("fails a manifest naming an export the module lacks", async () => {
    const { end } = await invoke(runtime, "fault.missing-export");
    expect((end as { failure: FailureInfo }).failure.message).toMatch(
      /^wasm module "faulty\.wasm" does not export not_exported \(a function \(i32, i32\) -> i64\)/,
    );
  });

  it("fails malformed answers: not JSON, outside memory, outputs against their schema", async () => {
    const garbage = (await invoke(runtime, "fault.garbage")).end as { failure: FailureInfo };
    expect(garbage.failure.type).toBe("wasm.malformed");
    expect(garbage.failure.message).toMatch(
      /^wasm module "faulty\.wasm" export garbage answered with text that is not JSON/,
    );
    const outside = (await invoke(runtime, "fault.outside")).end as { failure: FailureInfo };
    expect(outside.failure.message).toMatch(
      /^wasm module "faulty\.wasm" export outside answered with bytes 4294967040\.\.4294971136, beyond its memory of \d+ bytes$/,
    );
    const wrongType = (await invoke(runtime, "fault.wrong-type")).end as { failure: FailureInfo };
    expect(wrongType.failure).toMatchObject({
      type: "wasm.malformed",
      message:
        'wasm module "faulty.wasm" (node type "fault.wrong-type") returned malformed data: output "n" expected integer, found "twelve"',
    });
  });

  it("passes on a failure the module describes", async () => {
    const { end } = await invoke(runtime, "fault.refuse");
    expect((end as { failure: FailureInfo }).failure).toMatchObject({
      type: "fixture.refused",
      message: 'wasm module "faulty.wasm" (node type "fault.refuse") failed: refusing on purpose',
      retryable: false,
    });
  });

  it("gives a module no file and no clock unless granted, and its stdout and stderr as log lines", async () => {
    expect((await invoke(runtime, "fault.open-file")).end).toEqual({
      kind: "completed",
      outputs: { ok: false },
    });
    expect((await invoke(runtime, "fault.clock")).end).toEqual({ kind: "completed", outputs: { ok: false } });
    const chatty = await invoke(runtime, "fault.chatty");
    expect(chatty.logs).toEqual([
      { level: "info", message: "hello from stdout" },
      { level: "warn", message: "hello from stderr" },
    ]);
  });

  it("keeps serving other calls while one loops", async () => {
    const looping = invoke(runtime, "fault.spin", {}, { timeoutMs: 1_500 });
    const others = await Promise.all([1, 2, 3].map((n) => invoke(runtime, "fault.double", { n })));
    expect(others.map((other) => other.end)).toEqual(
      [1, 2, 3].map((n) => ({ kind: "completed", outputs: { n: n * 2 } })),
    );
    expect(((await looping).end as { failure: FailureInfo }).failure.type).toBe("wasm.timeout");
  });

  it("stops a call when the host cancels it", async () => {
    const result = new Promise<Event>((resolve) => {
      const sink = {
        started() {},
        log() {},
        progress() {},
        chunk() {},
        heartbeat() {},
        completed: (_s: number, outputs: Record<string, unknown>) => resolve({ kind: "completed", outputs }),
        failed: (_s: number, failure: FailureInfo) => resolve({ kind: "failed", failure }),
        cancelled: (_s: number, reason: string) => resolve({ kind: "cancelled", reason }),
        rejected: (failure: FailureInfo) => resolve({ kind: "rejected", failure }),
      };
      const control = runtime.execute(
        {
          invocationId: 2,
          executionId: "test",
          steps: [{ nodeId: "n", nodeType: "fault.spin", attempt: 1, config: {}, inputs: {}, timeoutMs: 0 }],
        },
        sink,
      );
      setTimeout(() => control.cancel("the execution was cancelled"), 50);
    });
    expect(await result).toEqual({ kind: "cancelled", reason: "the execution was cancelled" });
  });
});

describe("the wasm runtime's grants", () => {
  it("gives the clock to a module when the project grants it", async () => {
    const runtime = await startWasmRuntime(
      "wasm",
      { kind: "wasm", modules: ["faulty.wasm"], grant: ["clock"] },
      fixtures,
    );
    try {
      expect((await invoke(runtime, "fault.clock")).end).toEqual({
        kind: "completed",
        outputs: { ok: true },
      });
    } finally {
      await runtime.close();
    }
  });
});

describe("loadWasmModules()", () => {
  it("refuses a module whose manifest is missing, naming both", async () => {
    const error = await loadWasmModules("wasm", { kind: "wasm", modules: ["missing.wasm"] }, fixtures).catch(
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ConductorError);
    expect((error as Error).message).toMatch(
      /^runtime "wasm": wasm module missing\.wasm cannot be read: ENOENT/,
    );
  });
});

describe("the example C++ and AssemblyScript nodes", () => {
  let runtime: RuntimeConnection;
  beforeAll(async () => {
    runtime = await startWasmRuntime(
      "wasm",
      { kind: "wasm", modules: ["nodes/checksum.wasm", "nodes/text-stats.wasm"], memoryMb: 256 },
      examples,
    );
  });
  afterAll(() => runtime.close());

  it("computes the CRC-32 zlib computes, over 8 MiB", async () => {
    const data = new Uint8Array(8 * 1_048_576);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2_654_435_761) >>> 24;
    const { end } = await invoke(runtime, "cpp.crc32", { data });
    expect(end).toEqual({ kind: "completed", outputs: { crc32: crc32(data), size: data.length } });
  });

  it("blurs an image, giving bytes", async () => {
    const pixels = new Uint8Array([0, 0, 0, 0, 90, 0, 0, 0, 0]);
    const { end } = await invoke(runtime, "cpp.box-blur", { pixels }, { config: { width: 3, height: 3 } });
    expect(end).toEqual({
      kind: "completed",
      outputs: { pixels: new Uint8Array([22, 15, 22, 15, 10, 15, 22, 15, 22]) },
    });
  });

  it("checks a config against the manifest's schema", async () => {
    expect(await runtime.validateConfig("cpp.box-blur", { width: 0 })).toEqual([
      { path: "", message: 'missing required field "height"' },
      { path: "width", message: "must be >= 1" },
    ]);
  });

  it("counts words in AssemblyScript, escapes and non-ASCII text included", async () => {
    const { end } = await invoke(runtime, "as.text-stats", { text: 'two "quoted"\nlines, é and 🎉' });
    expect(end).toEqual({ kind: "completed", outputs: { words: 6, lines: 2, characters: 27 } });
  });
});
