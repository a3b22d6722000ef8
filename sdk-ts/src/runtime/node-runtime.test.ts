import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineNode } from "../node/define-node.js";
import { NodeFailure } from "../node/node-failure.js";
import { values } from "../node/value-schemas.js";
import type { FailureInfo } from "../protocol/failure.js";
import type { InvocationRequest, InvocationSink } from "../protocol/invocation.js";
import { parseJsonText } from "../protocol/json-text.js";
import { EncodedValue, encodeJsonValue, encodeValue } from "../protocol/value-codec.js";
import { createNodeRuntime } from "./node-runtime.js";

const add = defineNode({
  type: "test.add",
  input: { a: z.number(), b: z.number() },
  output: { sum: z.number() },
  config: z.object({ offset: z.number().default(0) }),
  flags: { deterministic: true },
  run: ({ a, b }, ctx) => ({ sum: a + b + ctx.config.offset }),
});

const fail = defineNode({
  type: "test.fail",
  config: z.object({ retryable: z.boolean() }),
  run: (_input, ctx) => {
    throw new NodeFailure("it broke", {
      retryable: ctx.config.retryable,
      type: "test.broken",
      details: { code: 7 },
    });
  },
});

const sleep = defineNode({
  type: "test.sleep",
  config: z.object({ ms: z.number() }),
  output: { sleptMs: z.number() },
  flags: { cancellable: true },
  run: (_input, ctx) =>
    new Promise<{ sleptMs: number }>((resolve, reject) => {
      const timer = setTimeout(() => resolve({ sleptMs: ctx.config.ms }), ctx.config.ms);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(ctx.signal.reason);
      });
    }),
});

/** Takes a while to clean up once its signal fires, logging before and after. */
const tidy = defineNode({
  type: "test.tidy",
  flags: { cancellable: true },
  run: (_input, ctx) =>
    new Promise<Record<string, never>>((_resolve, reject) => {
      ctx.signal.addEventListener("abort", () => {
        ctx.log.info("cleaning up");
        setTimeout(() => {
          ctx.log.info("cleaned up");
          reject(new Error("stopped"));
        }, 20);
      });
    }),
});

const increment = defineNode({
  type: "test.increment",
  input: { n: values.integer() },
  output: { n: values.integer() },
  run: ({ n }) => ({ n: typeof n === "bigint" ? n + 1n : n + 1 }),
});

const setField = defineNode({
  type: "test.set-field",
  config: z.object({ name: z.string(), broken: z.boolean().default(false) }),
  input: { item: z.record(z.string(), z.unknown()) },
  output: { item: z.record(z.string(), z.unknown()) },
  run: ({ item }, ctx) => ({
    item: ctx.config.broken ? ("not an object" as never) : { ...item, [ctx.config.name]: true },
  }),
});

const report = defineNode({
  type: "test.report",
  output: { done: z.boolean() },
  run: (_input, ctx) => {
    ctx.log.info("hello", { n: 1 });
    ctx.progress(0.5, "half");
    ctx.emit("items", 0);
    return { done: true };
  },
});

type Recorded = [string, ...unknown[]];

function recorder(): { sink: InvocationSink; events: Recorded[]; done: Promise<void> } {
  const events: Recorded[] = [];
  let finish!: () => void;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const sink: InvocationSink = {
    started: (step) => events.push(["started", step]),
    log: (step, level, message, fields) => events.push(["log", step, level, message, fields]),
    progress: (step, fraction, message) => events.push(["progress", step, fraction, message]),
    chunk: (step, port, value) => events.push(["chunk", step, port, value]),
    heartbeat: (step, details) => events.push(["heartbeat", step, details]),
    completed: (step, outputs) => {
      events.push(["completed", step, outputs]);
      finish();
    },
    failed: (step, failure: FailureInfo) => {
      events.push(["failed", step, failure]);
      finish();
    },
    cancelled: (step, reason) => {
      events.push(["cancelled", step, reason]);
      finish();
    },
    rejected: (failure) => {
      events.push(["rejected", failure]);
      finish();
    },
  };
  return { sink, events, done };
}

function invocation(steps: InvocationRequest["steps"]): InvocationRequest {
  return { invocationId: 1, executionId: "e1", steps };
}

describe("createNodeRuntime()", () => {
  const runtime = createNodeRuntime({ nodes: [add, fail, sleep, report, tidy, increment, setField] });

  it("describes node types with JSON Schemas for config and ports", () => {
    const type = runtime.nodeTypes.find((t) => t.type === "test.add")!;
    expect(type.inputs.map((p) => [p.name, p.required])).toEqual([
      ["a", true],
      ["b", true],
    ]);
    expect(JSON.parse(type.inputs[0]!.schema)).toMatchObject({ type: "number" });
    expect(JSON.parse(type.configSchema)).toMatchObject({ properties: { offset: { type: "number" } } });
    expect(type.flags?.deterministic).toBe(true);
  });

  it("runs a chain of steps, passing outputs in memory", async () => {
    const { sink, events, done } = recorder();
    runtime.execute(
      invocation([
        {
          nodeId: "one",
          nodeType: "test.add",
          attempt: 1,
          config: {},
          inputs: { a: { value: 1 }, b: { value: 2 } },
          timeoutMs: 0,
        },
        {
          nodeId: "two",
          nodeType: "test.add",
          attempt: 1,
          config: new EncodedValue(encodeJsonValue({ offset: 10 })),
          inputs: { a: { step: 0, port: "sum" }, b: { value: new EncodedValue(encodeJsonValue(4)) } },
          timeoutMs: 0,
        },
      ]),
      sink,
    );
    await done;
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual([
      ["started", 0],
      ["completed", 0, { sum: 3 }],
      ["started", 1],
      ["completed", 1, { sum: 17 }],
    ]);
  });

  it("fails a step whose input does not match its schema, naming node, port, expected and found", async () => {
    const { sink, events, done } = recorder();
    runtime.execute(
      invocation([
        {
          nodeId: "adder",
          nodeType: "test.add",
          attempt: 1,
          config: {},
          inputs: { a: { value: "three" }, b: { value: 2 } },
          timeoutMs: 0,
        },
      ]),
      sink,
    );
    await done;
    // The step began (started), then its input check failed it (docs/protocol.md §3.1).
    expect(events.map((event) => event[0])).toEqual(["started", "failed"]);
    const failure = events[1]![2] as FailureInfo;
    expect(failure.type).toBe("input.invalid");
    expect(failure.retryable).toBe(false);
    expect(failure.message).toBe('node "adder" (test.add): input "a": expected number, found string "three"');
  });

  it("fails a step given an input its node type does not declare, naming the port", async () => {
    const { sink, events, done } = recorder();
    runtime.execute(
      invocation([
        {
          nodeId: "adder",
          nodeType: "test.add",
          attempt: 1,
          config: {},
          inputs: { a: { value: 1 }, b: { value: 2 }, c: { value: 3 } },
          timeoutMs: 0,
        },
      ]),
      sink,
    );
    await done;
    expect(events.map((event) => event[0])).toEqual(["started", "failed"]);
    expect(events[1]![2]).toMatchObject({
      type: "input.invalid",
      retryable: false,
      message: 'node "adder" (test.add) has no input "c"; its inputs are: a, b',
    });
  });

  it("reports a NodeFailure with its retryable flag, type and details", async () => {
    const { sink, events, done } = recorder();
    runtime.execute(
      invocation([
        {
          nodeId: "f",
          nodeType: "test.fail",
          attempt: 1,
          config: { retryable: true },
          inputs: {},
          timeoutMs: 0,
        },
      ]),
      sink,
    );
    await done;
    expect(events[1]).toMatchObject([
      "failed",
      0,
      { message: "it broke", type: "test.broken", retryable: true, details: { code: 7 } },
    ]);
  });

  it("rejects an invocation naming an unknown node type before running anything", async () => {
    const { sink, events, done } = recorder();
    runtime.execute(
      invocation([{ nodeId: "x", nodeType: "test.nope", attempt: 1, config: {}, inputs: {}, timeoutMs: 0 }]),
      sink,
    );
    await done;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject(["rejected", { type: "node-type.unknown", retryable: false }]);
  });

  it("cancels a running step through its abort signal", async () => {
    const { sink, events, done } = recorder();
    const control = runtime.execute(
      invocation([
        { nodeId: "s", nodeType: "test.sleep", attempt: 1, config: { ms: 60_000 }, inputs: {}, timeoutMs: 0 },
      ]),
      sink,
    );
    await new Promise((resolve) => setTimeout(resolve, 10));
    control.cancel("user asked");
    // The step sleeps a minute, past the test's time limit: it ends only because its signal fired.
    await done;
    expect(events).toEqual([
      ["started", 0],
      ["cancelled", 0, "user asked"],
    ]);
  });

  it("fails a step that exceeds its timeout with a retryable timeout failure", async () => {
    const { sink, events, done } = recorder();
    runtime.execute(
      invocation([
        {
          nodeId: "slow",
          nodeType: "test.sleep",
          attempt: 1,
          config: { ms: 5000 },
          inputs: {},
          timeoutMs: 30,
        },
      ]),
      sink,
    );
    await done;
    expect(events[1]).toMatchObject([
      "failed",
      0,
      { type: "timeout", retryable: true, message: 'node "slow" (test.sleep) timed out after 30 ms' },
    ]);
  });

  it("reports a timeout only once the node has returned, so no retry runs beside it", async () => {
    const { sink, events, done } = recorder();
    runtime.execute(
      invocation([{ nodeId: "t", nodeType: "test.tidy", attempt: 1, config: {}, inputs: {}, timeoutMs: 20 }]),
      sink,
    );
    await done;
    expect(events.map((event) => (event[0] === "log" ? `log ${String(event[3])}` : event[0]))).toEqual([
      "started",
      "log cleaning up",
      "log cleaned up",
      "failed",
    ]);
    expect(events[3]).toMatchObject([
      "failed",
      0,
      { type: "timeout", retryable: true, message: 'node "t" (test.tidy) timed out after 20 ms' },
    ]);
  });

  it("delivers logs, progress and chunks before the terminal event", async () => {
    const { sink, events, done } = recorder();
    runtime.execute(
      invocation([
        { nodeId: "r", nodeType: "test.report", attempt: 1, config: {}, inputs: {}, timeoutMs: 0 },
      ]),
      sink,
    );
    await done;
    expect(events.map((e) => e[0])).toEqual(["started", "log", "progress", "chunk", "completed"]);
    expect(events[1]).toEqual(["log", 0, "info", "hello", { n: 1 }]);
  });

  it("gives a node an integer beyond 2^53 as a bigint with every digit, and encodes its bigint output exactly", async () => {
    const { sink, events, done } = recorder();
    runtime.execute(
      invocation([
        {
          nodeId: "inc",
          nodeType: "test.increment",
          attempt: 1,
          config: {},
          inputs: { n: { value: new EncodedValue(encodeValue(parseJsonText("9007199254740993"))) } },
          timeoutMs: 0,
        },
      ]),
      sink,
    );
    await done;
    expect(events[1]).toEqual(["completed", 0, { n: 9007199254740994n }]);
    expect(new TextDecoder().decode(encodeValue(9007199254740994n).kind.value as Uint8Array)).toBe(
      "9007199254740994",
    );
    expect(JSON.parse(runtime.nodeType("test.increment")!.inputs[0]!.schema)).toMatchObject({
      type: "integer",
    });
  });

  it("refuses a bigint on a number port instead of rounding it, and says how to take one", async () => {
    const { sink, events, done } = recorder();
    runtime.execute(
      invocation([
        {
          nodeId: "sum",
          nodeType: "test.add",
          attempt: 1,
          config: {},
          inputs: { a: { value: new EncodedValue(encodeJsonValue(9007199254740993n)) }, b: { value: 1 } },
          timeoutMs: 0,
        },
      ]),
      sink,
    );
    await done;
    // The step starts, then fails its input check (the ABI's order: started before the checks).
    expect(events.map(([kind]) => kind)).toEqual(["started", "failed"]);
    expect(events[1]).toEqual([
      "failed",
      0,
      {
        type: "input.invalid",
        retryable: false,
        message:
          'node "sum" (test.add): input "a": expected number, found bigint 9007199254740993 (an integer beyond 2^53 - 1, which a number cannot hold exactly; the node should declare it with values.integer())',
      },
    ]);
  });

  it("takes a checked input as it is, and still checks the node's own output against its schema", async () => {
    const item = { a: 1 };
    const run = async (broken: boolean) => {
      const { sink, events, done } = recorder();
      runtime.execute(
        invocation([
          {
            nodeId: "set",
            nodeType: "test.set-field",
            attempt: 1,
            config: { name: "b", broken },
            inputs: { item: { value: item, checked: true } },
            timeoutMs: 0,
          },
        ]),
        sink,
      );
      await done;
      return events;
    };
    expect(await run(false)).toEqual([
      ["started", 0],
      ["completed", 0, { item: { a: 1, b: true } }],
    ]);
    expect((await run(true))[1]).toMatchObject([
      "failed",
      0,
      {
        type: "output.invalid",
        retryable: false,
        message: expect.stringContaining('node "set" (test.set-field): output "item": expected record'),
      },
    ]);
  });

  it("validates config with diagnostics carrying dotted paths", () => {
    const diagnostics = runtime.validateConfig("test.add", { offset: "x" });
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]!.path).toBe("offset");
    expect(diagnostics[0]!.found).toBe('string "x"');
  });

  it("refuses unknown config keys, naming the declared key a misspelt one meant", () => {
    const strict = createNodeRuntime({
      nodes: [
        defineNode({
          type: "test.fetch",
          config: z.object({
            method: z.string().default("GET"),
            // Nested objects are the node's to make strict: the top level is made strict for it.
            retry: z.strictObject({ minAmount: z.number().default(1) }).optional(),
          }),
          run: () => ({}),
        }),
        defineNode({ type: "test.plain", run: () => ({}) }),
        defineNode({
          type: "test.loose",
          config: z.looseObject({ a: z.number().optional() }),
          run: () => ({}),
        }),
      ],
    });
    const diagnostics = strict.validateConfig("test.fetch", { methd: "POST", retry: { minAmout: 3 } });
    expect(diagnostics.map((diagnostic) => [diagnostic.path, diagnostic.message])).toEqual([
      ["retry.minAmout", 'config "retry.minAmout": unknown field; did you mean "minAmount"?'],
      ["methd", 'config "methd": unknown field; did you mean "method"?'],
    ]);
    expect(strict.validateConfig("test.plain", { x: 1 }).map((diagnostic) => diagnostic.message)).toEqual([
      'config "x": unknown field; this node takes no config here',
    ]);
    // A node that accepts other keys says so.
    expect(strict.validateConfig("test.loose", { b: 1 })).toEqual([]);
  });

  it("publishes a strict config schema (additionalProperties: false) unless the node opted out", () => {
    const [fetch] = createNodeRuntime({
      nodes: [defineNode({ type: "test.fetch", config: z.object({ method: z.string() }), run: () => ({}) })],
    }).nodeTypes;
    expect(JSON.parse(fetch!.configSchema).additionalProperties).toBe(false);
  });
});
