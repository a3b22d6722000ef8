import { trace } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StepRequest } from "../protocol/invocation.js";
import { installNodeTracing, type NodeTracing } from "./node-tracing.js";
import { stepTraceRunner } from "./step-trace.js";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID = "00f067aa0ba902b7";

let exporter: InMemorySpanExporter;
let tracing: NodeTracing;

beforeAll(async () => {
  exporter = new InMemorySpanExporter();
  tracing = await installNodeTracing({ serviceName: "test-runtime", exporter });
});

afterAll(async () => {
  await tracing.shutdown();
});

function step(traceparent: string, tracestate?: string): StepRequest {
  return {
    nodeId: "n0",
    traceparent,
    ...(tracestate === undefined ? {} : { tracestate }),
  } as StepRequest;
}

/** Runs `code` as a step's node code (synchronously or in a frame) and gives the spans it made. */
async function spansOf(
  request: StepRequest,
  synchronous: boolean,
): Promise<ReturnType<typeof exporter.getFinishedSpans>> {
  exporter.reset();
  const runner = stepTraceRunner()!;
  runner(request, "execution-1", () => trace.getTracer("node code").startSpan("work").end(), synchronous);
  await tracing.flush();
  return exporter.getFinishedSpans();
}

describe("installNodeTracing()", () => {
  it("makes the spans of a step's code children of the step's traceparent, in a frame or in the slot", async () => {
    for (const synchronous of [true, false]) {
      const [span] = await spansOf(step(`00-${TRACE_ID}-${PARENT_ID}-01`, "vendor=value"), synchronous);
      expect(span?.spanContext().traceId).toBe(TRACE_ID);
      expect(span?.parentSpanContext?.spanId).toBe(PARENT_ID);
      expect(span?.parentSpanContext?.isRemote).toBe(true);
      expect(span?.spanContext().traceState?.get("vendor")).toBe("value");
    }
  });

  it("records nothing for the code of a step whose traceparent is not sampled", async () => {
    expect(await spansOf(step(`00-${TRACE_ID}-${PARENT_ID}-00`), true)).toEqual([]);
  });

  it("starts a new trace for the code of a step whose traceparent is not valid", async () => {
    const [span] = await spansOf(step(`00-${TRACE_ID}-0000000000000000-01`), true);
    expect(span?.parentSpanContext).toBeUndefined();
    expect(span?.spanContext().traceId).not.toBe(TRACE_ID);
  });
});
