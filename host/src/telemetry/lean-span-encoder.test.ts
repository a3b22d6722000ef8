import { defineNode } from "@conductor/sdk";
import { trace } from "@opentelemetry/api";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createFlakyOnce, retriedBlueprint } from "../../../test/fixtures/nodes/telemetry-nodes.js";
import { decodeTraces } from "../../../test/telemetry/otlp-receiver.js";
import { type Conductor, createConductor } from "../conductor.js";
import type { Tracing } from "./execution-trace.js";
import { LeanSpan } from "./lean-span.js";
import { encodeSpans } from "./lean-span-encoder.js";
import { OtlpWriter } from "./otlp-span-writer.js";
import { createTracing } from "./tracing.js";

const flaky = createFlakyOnce();
const annotated = defineNode({
  type: "test.annotated",
  input: { x: z.number() },
  output: { x: z.number() },
  run: ({ x }) => {
    // Node code adds to its attempt's span (a lean one) and makes its own (the SDK's).
    const span = trace.getActiveSpan()!;
    span.setAttribute("test.rows", 1200);
    span.setAttribute("test.ratio", 0.25);
    span.setAttribute("test.tags", ["a", "é"]);
    span.setAttribute("conductor.node.type", "overridden by the node");
    span.addEvent("halfway", { "test.done": 50 });
    trace.getTracer("test").startActiveSpan("inner", (inner) => inner.end());
    return { x: x + 1 };
  },
});

const BLUEPRINT = retriedBlueprint("encoded", { type: "test.annotated" });

let exporter: InMemorySpanExporter;
let tracing: Tracing;
let conductor: Conductor;
let spans: ReadableSpan[];

beforeAll(async () => {
  exporter = new InMemorySpanExporter();
  tracing = await createTracing({ exporter });
  conductor = await createConductor({
    nodes: [flaky.node, annotated],
    tracing,
    project: { dir: process.cwd(), blueprints: [], nodes: [], runtimes: {} },
  });
  const run = await conductor.run(BLUEPRINT, { x: 1 });
  expect(run.status).toBe("completed");
  await tracing.flush();
  spans = [...exporter.getFinishedSpans()];
});

afterAll(async () => {
  await conductor.close();
  await tracing.shutdown();
});

describe("encodeSpans()", () => {
  it("encodes the host's lean spans to the same bytes as OpenTelemetry's serializer", () => {
    const lean = spans.filter((span) => span instanceof LeanSpan);
    // The execution's span, execution.started, two attempts of `first` (one failed, with a retry event), one of
    // `second`.
    expect(lean.map((span) => span.name).sort()).toEqual([
      "execution encoded",
      "execution.started",
      "node first",
      "node first",
      "node second",
    ]);
    const expected = ProtobufTraceSerializer.serializeRequest(lean)!;
    expect(Buffer.from(encodeSpans(lean)).toString("hex")).toBe(Buffer.from(expected).toString("hex"));
  });

  it("encodes an execution's span under an incoming remote parent as OpenTelemetry's serializer does", async () => {
    const prepared = await conductor.prepare(BLUEPRINT);
    flaky.passFromNow();
    const handle = prepared.start(
      { x: 3 },
      {
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        trigger: "api",
        noCache: true,
      },
    );
    await handle.result;
    await tracing.flush();
    const lean = exporter
      .getFinishedSpans()
      .filter(
        (span) =>
          span instanceof LeanSpan && span.attributes["conductor.execution.id"] === handle.executionId,
      );
    const root = lean.find((span) => span.name === "execution encoded")!;
    expect(root.parentSpanContext?.spanId).toBe("00f067aa0ba902b7");
    expect(root.spanContext().traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    const expected = ProtobufTraceSerializer.serializeRequest(lean)!;
    expect(Buffer.from(encodeSpans(lean)).toString("hex")).toBe(Buffer.from(expected).toString("hex"));
  });

  it("encodes a batch of lean and SDK spans as one request that holds all of them", () => {
    const decoded = decodeTraces(encodeSpans(spans));
    const reference = decodeTraces(ProtobufTraceSerializer.serializeRequest(spans)!);
    const key = (span: { spanId: string }) => span.spanId;
    expect(decoded.sort((a, b) => key(a).localeCompare(key(b)))).toEqual(
      reference.sort((a, b) => key(a).localeCompare(key(b))),
    );
    expect(decoded.map((span) => span.name).sort()).toEqual([
      "execution encoded",
      "execution.started",
      "inner",
      "node first",
      "node first",
      "node second",
    ]);
    const second = decoded.find((span) => span.name === "node second")!;
    expect(second.attributes).toMatchObject({
      "conductor.node.type": "overridden by the node",
      "test.rows": 1200,
      "test.ratio": 0.25,
      "conductor.node.status": "completed",
    });
    expect(decoded.find((span) => span.name === "inner")!.parentSpanId).toBe(second.spanId);
  });

  it("gives lean spans random ids, unique and not in sequence", () => {
    const ids = spans.filter((span) => span instanceof LeanSpan).map((span) => span.spanContext().spanId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{16}$/);
    const numbers = ids.map((id) => BigInt(`0x${id}`)).sort((a, b) => (a < b ? -1 : 1));
    // A counter would make neighbours differ by a few units; 64 random bits almost never do.
    for (let i = 1; i < numbers.length; i++) expect(numbers[i]! - numbers[i - 1]!).toBeGreaterThan(1000n);
  });
});

describe("OtlpWriter", () => {
  it("writes a time as the nanoseconds since the epoch, as a 64-bit little-endian number", () => {
    for (const time of [
      [0, 0],
      [1_764_780_000, 123_456_789],
      [4_294_967_295, 999_999_999],
    ] as [number, number][]) {
      const writer = new OtlpWriter(8);
      writer.hrTime(time);
      const view = new DataView(writer.finish().buffer);
      expect(view.getBigUint64(0, true)).toBe(BigInt(time[0]) * 1_000_000_000n + BigInt(time[1]));
    }
  });

  it("writes lengths of more than one byte, moving what follows", () => {
    const writer = new OtlpWriter(4);
    writer.string("x".repeat(300));
    const bytes = writer.finish();
    expect([...bytes.subarray(0, 2)]).toEqual([0xac, 0x02]);
    expect(bytes.length).toBe(302);
  });
});
