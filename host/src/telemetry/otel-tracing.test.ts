import { defineNode, NodeFailure } from "@conductor/sdk";
import { trace } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { cached, createFlakyOnce, retriedBlueprint } from "../../../test/fixtures/nodes/telemetry-nodes.js";
import { type Conductor, createConductor } from "../conductor.js";
import type { Tracing } from "./execution-trace.js";
import { createTracing, tracingFromEnvironment } from "./tracing.js";

const flaky = createFlakyOnce();
const broken = defineNode({
  type: "test.broken",
  input: { x: z.number() },
  output: { x: z.number() },
  run: () => {
    throw new NodeFailure("it broke", { type: "test.broke", retryable: false });
  },
});

const BLUEPRINT = retriedBlueprint("traced", { type: "test.cached", cache: true });

const doubled = defineNode({
  type: "test.doubled",
  input: { x: z.number() },
  output: { x: z.number() },
  run: ({ x }) =>
    trace.getTracer("test").startActiveSpan(`double ${x}`, (span) => {
      span.end();
      return { x: 2 * x };
    }),
});

// Node code of each kind that makes spans: synchronous (run without a frame of its own once it has returned a value),
// async (spans after an await), and a plain function whose promise's callback makes the span.
const tracer = trace.getTracer("test");
const synchronous = defineNode({
  type: "test.sync-spans",
  input: { x: z.number() },
  output: { x: z.number() },
  run: ({ x }) =>
    tracer.startActiveSpan(`sync outer ${x}`, (outer) => {
      tracer.startSpan(`sync inner ${x}`).end();
      outer.end();
      return { x };
    }),
});
const asynchronous = defineNode({
  type: "test.async-spans",
  input: { x: z.number() },
  output: { x: z.number() },
  run: async ({ x }) => {
    await new Promise((resolve) => setImmediate(resolve));
    tracer.startSpan(`after await ${x}`).end();
    return { x };
  },
});
const thenable = defineNode({
  type: "test.then-spans",
  input: { x: z.number() },
  output: { x: z.number() },
  run: ({ x }) =>
    Promise.resolve().then(() => {
      tracer.startSpan(`in then ${x}`).end();
      return { x };
    }),
});

let exporter: InMemorySpanExporter;
let tracing: Tracing;
let conductor: Conductor;

beforeAll(async () => {
  exporter = new InMemorySpanExporter();
  tracing = await createTracing({ exporter });
  conductor = await createConductor({
    nodes: [flaky.node, cached, broken, doubled, synchronous, asynchronous, thenable],
    tracing,
    project: { dir: process.cwd(), blueprints: [], nodes: [], runtimes: {} },
  });
});

afterAll(async () => {
  await conductor.close();
  await tracing.shutdown();
});

const spansOf = async (executionId: string) => {
  await tracing.flush();
  return exporter
    .getFinishedSpans()
    .filter((span) => span.attributes["conductor.execution.id"] === executionId);
};

describe("tracing of executions", () => {
  it("is off unless the OTEL_* environment names an OTLP endpoint", async () => {
    expect(await tracingFromEnvironment({})).toBeUndefined();
    expect(
      await tracingFromEnvironment({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
        OTEL_SDK_DISABLED: "true",
      }),
    ).toBeUndefined();
    expect(
      await tracingFromEnvironment({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
        OTEL_TRACES_EXPORTER: "none",
      }),
    ).toBeUndefined();
  });

  it("gives each attempt a span, a retry event and an error status on the failed one, and a cache hit its own", async () => {
    const run = await conductor.run(BLUEPRINT, { x: 1 });
    expect(run.status).toBe("completed");
    const spans = await spansOf(run.executionId);
    const root = spans.find((span) => span.name === "execution traced")!;
    expect(root.attributes["conductor.execution.status"]).toBe("completed");
    const first = spans.filter((span) => span.name === "node first");
    expect(first.map((span) => span.attributes["conductor.node.attempt"])).toEqual([1, 2]);
    expect(first[0]!.events.map((event) => event.name)).toEqual(["retry"]);
    expect(first[0]!.status).toMatchObject({ code: 2, message: "not yet" });
    expect(first[0]!.attributes["error.type"]).toBe("test.not-yet");
    expect(first[1]!.attributes["conductor.node.status"]).toBe("completed");
    // In-process nodes are sent nowhere: their attempts are the execution's children, with no dispatch span.
    for (const span of first) {
      expect(span.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
      expect(span.spanContext().traceId).toBe(root.spanContext().traceId);
      expect(span.attributes["conductor.runtime"]).toBe("builtin");
    }
    expect(spans.filter((span) => span.name.startsWith("dispatch "))).toEqual([]);
    expect(spans.filter((span) => span.name === "execution.started")).toHaveLength(1);

    // The second run finds `second` in the cache: a zero-length span marked as a hit, under the execution.
    flaky.failNext();
    const again = await conductor.run(BLUEPRINT, { x: 1 });
    const hits = (await spansOf(again.executionId)).filter((span) => span.name === "node second");
    expect(hits.map((span) => span.attributes["conductor.cache.hit"])).toEqual([true]);
  });

  it("marks a failed execution's span and its node's span with the failure", async () => {
    const run = await conductor.run(
      {
        conductor: "blueprint/v1",
        id: "broken",
        nodes: { only: { type: "test.broken", inputs: { x: { value: 1 } } } },
      },
      {},
    );
    expect(run.status).toBe("failed");
    const spans = await spansOf(run.executionId);
    expect(spans.find((span) => span.name === "node only")?.status).toMatchObject({
      code: 2,
      message: "it broke",
    });
    const root = spans.find((span) => span.name === "execution broken")!;
    expect(root.status.code).toBe(2);
    expect(root.attributes["conductor.execution.status"]).toBe("failed");
  });

  it("gives each element of a map node its own span, under which the element's code runs", async () => {
    const run = await conductor.run(
      {
        conductor: "blueprint/v1",
        id: "mapped",
        inputs: { xs: {} },
        outputs: { xs: "each.x" },
        nodes: { each: { type: "test.doubled", map: { over: "x" }, inputs: { x: "inputs.xs" } } },
      },
      { xs: [1, 2] },
    );
    expect(run.status).toBe("completed");
    expect(run.outputs.xs).toEqual([2, 4]);
    await tracing.flush();
    const all = exporter.getFinishedSpans();
    const spans = all.filter((span) => span.attributes["conductor.execution.id"] === run.executionId);
    const node = spans.find((span) => span.name === "node each")!;
    expect(node.attributes["conductor.node.map"]).toBe(true);
    for (const item of [0, 1]) {
      const span = spans.find((candidate) => candidate.name === `item each[${item}]`)!;
      expect(span.parentSpanContext?.spanId).toBe(node.spanContext().spanId);
      expect(span.attributes).toMatchObject({
        "conductor.map.item": item,
        "conductor.node.attempt": 1,
        "conductor.node.status": "completed",
      });
      const work = all.find((candidate) => candidate.name === `double ${item + 1}`)!;
      expect(work.parentSpanContext?.spanId).toBe(span.spanContext().spanId);
      expect(work.spanContext().traceId).toBe(node.spanContext().traceId);
    }
  });

  it("nests the spans of synchronous, async and promise-returning node code under their attempt, run after run", async () => {
    const blueprint = {
      conductor: "blueprint/v1" as const,
      id: "kinds",
      inputs: { x: {} },
      outputs: { x: "c.x" },
      nodes: {
        a: { type: "test.sync-spans", inputs: { x: "inputs.x" } },
        b: { type: "test.async-spans", inputs: { x: "a.x" } },
        c: { type: "test.then-spans", inputs: { x: "b.x" } },
      },
    };
    // The first run of synchronous code has a frame of its own; later runs have the context only while it runs.
    for (const x of [1, 2, 3]) {
      const run = await conductor.run(blueprint, { x });
      expect(run.status).toBe("completed");
      await tracing.flush();
      const all = exporter.getFinishedSpans();
      const nodeSpan = (id: string) =>
        all.find(
          (span) =>
            span.name === `node ${id}` && span.attributes["conductor.execution.id"] === run.executionId,
        )!;
      const named = (name: string) => {
        const found = all.filter((span) => span.name === name);
        expect(found, name).toHaveLength(1);
        return found[0]!;
      };
      const parentOf = (name: string) => named(name).parentSpanContext?.spanId;
      expect(parentOf(`sync outer ${x}`)).toBe(nodeSpan("a").spanContext().spanId);
      expect(parentOf(`sync inner ${x}`)).toBe(named(`sync outer ${x}`).spanContext().spanId);
      expect(parentOf(`after await ${x}`)).toBe(nodeSpan("b").spanContext().spanId);
      expect(parentOf(`in then ${x}`)).toBe(nodeSpan("c").spanContext().spanId);
      // Outside node code, no step's context is current.
      expect(trace.getActiveSpan()).toBeUndefined();
    }
  });

  it("makes no span of an execution whose incoming trace is not sampled, and runs it the same", async () => {
    const prepared = await conductor.prepare(BLUEPRINT);
    flaky.passFromNow();
    const handle = prepared.start(
      { x: 6 },
      { traceparent: "00-5bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", noCache: true },
    );
    expect((await handle.result).outputs).toEqual({ x: 7 });
    expect(await spansOf(handle.executionId)).toEqual([]);
  });

  it("makes an incoming traceparent the parent of the execution's span", async () => {
    const prepared = await conductor.prepare(BLUEPRINT);
    flaky.passFromNow();
    const handle = prepared.start(
      { x: 5 },
      {
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        trigger: "api",
        noCache: true,
      },
    );
    await handle.result;
    const root = (await spansOf(handle.executionId)).find((span) => span.name === "execution traced")!;
    expect(root.spanContext().traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(root.parentSpanContext?.spanId).toBe("00f067aa0ba902b7");
    expect(root.kind).toBe(1);
  });

  it("keeps a tracing shared by two conductors running when one of them closes", async () => {
    const memory = new InMemorySpanExporter();
    const shared = await createTracing({ exporter: memory });
    const project = { dir: process.cwd(), blueprints: [], nodes: [], runtimes: {} };
    const first = await createConductor({ nodes: [doubled], tracing: shared, project });
    const second = await createConductor({ nodes: [doubled], tracing: shared, project });
    const blueprint = (id: string) => ({
      conductor: "blueprint/v1" as const,
      id,
      inputs: { x: {} },
      outputs: { x: "only.x" },
      nodes: { only: { type: "test.doubled", inputs: { x: "inputs.x" } } },
    });
    try {
      await first.run(blueprint("before"), { x: 1 });
      await first.close();
      // Closing the first flushed the shared tracing and left it running: the second's spans still go out.
      expect(memory.getFinishedSpans().map((span) => span.name)).toContain("execution before");
      await second.run(blueprint("after"), { x: 2 });
      await shared.flush();
      expect(memory.getFinishedSpans().map((span) => span.name)).toContain("execution after");
    } finally {
      await second.close();
      await shared.shutdown();
    }
  });

  it("follows OTEL_TRACES_SAMPLER: with always_off an execution makes no span, and with always_on it does", async () => {
    const sampled = async (sampler: string) => {
      process.env.OTEL_TRACES_SAMPLER = sampler;
      const memory = new InMemorySpanExporter();
      const own = await createTracing({ exporter: memory });
      const other = await createConductor({
        nodes: [doubled],
        tracing: own,
        project: { dir: process.cwd(), blueprints: [], nodes: [], runtimes: {} },
      });
      try {
        const run = await other.run(
          {
            conductor: "blueprint/v1",
            id: "sampled",
            inputs: { x: {} },
            outputs: { x: "only.x" },
            nodes: { only: { type: "test.doubled", inputs: { x: "inputs.x" } } },
          },
          { x: 2 },
        );
        expect(run.outputs).toEqual({ x: 4 });
        await own.flush();
        return memory.getFinishedSpans().map((span) => span.name);
      } finally {
        delete process.env.OTEL_TRACES_SAMPLER;
        await other.close();
      }
    };
    expect(await sampled("always_off")).toEqual([]);
    // (The node's own span goes to the global tracer provider, the first tracing's: not counted here.)
    expect((await sampled("always_on")).sort()).toEqual([
      "execution sampled",
      "execution.started",
      "node only",
    ]);
  });
});
