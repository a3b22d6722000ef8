import { defineNode, NodeFailure } from "@conductor/sdk";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type Conductor, createConductor } from "../conductor.js";
import type { Tracing } from "./execution-trace.js";
import { createJsonLog } from "./json-log.js";
import { logSettingsOf } from "./log-settings.js";
import { createTracing } from "./tracing.js";

let calls = 0;
const flaky = defineNode({
  type: "test.log-flaky",
  input: { x: z.number() },
  output: { x: z.number() },
  run: ({ x }, ctx) => {
    calls++;
    if (calls === 1) throw new NodeFailure("not yet", { type: "test.not-yet", retryable: true });
    ctx.log.warn("counted rows", { rows: 3, source: "memory" });
    return { x };
  },
});

const BLUEPRINT = {
  conductor: "blueprint/v1" as const,
  id: "logged",
  inputs: { x: {} },
  outputs: { x: "count.x" },
  nodes: {
    count: {
      type: "test.log-flaky",
      inputs: { x: "inputs.x" },
      retry: { maxAttempts: 2, initialDelayMs: 1 },
    },
  },
};

type Line = Record<string, unknown> & { level: string; msg: string; event: string };

/** A conductor whose JSON log goes to `lines`. */
async function logged(level: "debug" | "info", tracing: Tracing | false) {
  const lines: Line[] = [];
  const log = createJsonLog({
    level,
    destination: { write: (text: string) => lines.push(JSON.parse(text) as Line) },
  });
  const conductor = await createConductor({
    nodes: [flaky],
    tracing,
    observers: [log],
    store: false,
    project: { dir: process.cwd(), blueprints: [], nodes: [], runtimes: {} },
  });
  return { lines, conductor, log };
}

let exporter: InMemorySpanExporter;
let tracing: Tracing;
const conductors: Conductor[] = [];

beforeAll(async () => {
  exporter = new InMemorySpanExporter();
  tracing = await createTracing({ exporter });
});

afterAll(async () => {
  for (const conductor of conductors) await conductor.close();
});

describe("createJsonLog()", () => {
  it("writes a JSON line per event and per node log line, with the ids of the execution, the attempt and its span", async () => {
    const { lines, conductor } = await logged("debug", tracing);
    conductors.push(conductor);
    calls = 0;
    const run = await conductor.run(BLUEPRINT, { x: 4 });
    expect(run.status).toBe("completed");

    expect(lines.map((line) => line.event)).toEqual([
      "execution.started",
      "node.queued",
      "node.started",
      "node.failed",
      "node.queued",
      "node.started",
      "node.log",
      "node.completed",
      "execution.finished",
    ]);
    for (const line of lines) {
      expect(line).toMatchObject({ name: "conductor", execution_id: run.executionId, blueprint: "logged" });
      expect(typeof line.time).toBe("string");
      expect(line.pid).toBe(process.pid);
    }

    await tracing.flush();
    const spans = exporter
      .getFinishedSpans()
      .filter((span) => span.attributes["conductor.execution.id"] === run.executionId);
    const root = spans.find((span) => span.name === "execution logged")!;
    const attempts = spans.filter((span) => span.name === "node count");
    expect(attempts.map((span) => span.attributes["conductor.node.attempt"])).toEqual([1, 2]);
    const traceId = root.spanContext().traceId;
    for (const line of lines) expect(line.trace_id).toBe(traceId);

    const [started, , , failed, , , nodeLog, completed, finished] = lines;
    expect(started).toMatchObject({ level: "info", span_id: root.spanContext().spanId });
    expect(failed).toMatchObject({
      level: "warn",
      node: "count",
      attempt: 1,
      runtime: "builtin",
      span_id: attempts[0]!.spanContext().spanId,
      failure: { type: "test.not-yet", message: "not yet", retryable: true },
      retry_in_ms: 1,
    });
    expect(nodeLog).toMatchObject({
      level: "warn",
      msg: "counted rows",
      node: "count",
      attempt: 2,
      runtime: "builtin",
      fields: { rows: 3, source: "memory" },
      span_id: attempts[1]!.spanContext().spanId,
    });
    expect(completed).toMatchObject({
      level: "info",
      attempt: 2,
      span_id: attempts[1]!.spanContext().spanId,
    });
    expect(finished).toMatchObject({
      level: "info",
      status: "completed",
      span_id: root.spanContext().spanId,
      msg: "execution of logged completed",
    });
    // Values stay out of the log.
    expect(JSON.stringify(lines)).not.toContain('"inputs"');
  });

  it("leaves lines below its level out, and trace ids out when tracing is off", async () => {
    const { lines, conductor, log } = await logged("info", false);
    conductors.push(conductor);
    calls = 1;
    const run = await conductor.run(BLUEPRINT, { x: 1 });
    log.notice("a notice", { runtime: "python" });
    log.runtimeOutput("python", "stderr", "below the level");
    log.error("it ended", { code: "blueprint_invalid" });
    expect(lines.map((line) => line.event)).toEqual([
      "execution.started",
      "node.started",
      "node.log",
      "node.completed",
      "execution.finished",
      "host.notice",
      "host.error",
    ]);
    for (const line of lines) expect(line).not.toHaveProperty("trace_id");
    expect(lines[0]!.execution_id).toBe(run.executionId);
    expect(lines.at(-2)).toMatchObject({ level: "info", msg: "a notice", runtime: "python" });
    expect(lines.at(-1)).toMatchObject({ level: "error", msg: "it ended", code: "blueprint_invalid" });
  });

  it("logs a failed execution at error, naming the node and the failure", async () => {
    const { lines, conductor } = await logged("info", false);
    conductors.push(conductor);
    calls = 0;
    const run = await conductor.run(
      {
        ...BLUEPRINT,
        nodes: { count: { type: "test.log-flaky", inputs: { x: "inputs.x" } } },
      },
      { x: 1 },
    );
    expect(run.status).toBe("failed");
    expect(lines.map((line) => [line.event, line.level])).toEqual([
      ["execution.started", "info"],
      ["node.started", "info"],
      ["node.failed", "error"],
      ["execution.finished", "error"],
    ]);
    expect(lines.at(-1)).toMatchObject({
      status: "failed",
      node: "count",
      failure: { type: "test.not-yet", message: "not yet" },
    });
  });
});

describe("logSettingsOf()", () => {
  it("takes the flags first, then the environment, and names what is wrong", () => {
    expect(logSettingsOf({}, {})).toEqual({ format: "text", level: "info" });
    expect(logSettingsOf({}, { CONDUCTOR_LOG_FORMAT: "json", CONDUCTOR_LOG_LEVEL: "warn" })).toEqual({
      format: "json",
      level: "warn",
    });
    expect(logSettingsOf({ format: "text" }, { CONDUCTOR_LOG_FORMAT: "json" })).toEqual({
      format: "text",
      level: "info",
    });
    expect(logSettingsOf({ format: "xml" }, {})).toEqual({
      problem: '--log-format takes "text" or "json", got "xml"',
    });
    expect(logSettingsOf({}, { CONDUCTOR_LOG_LEVEL: "loud" })).toEqual({
      problem: 'CONDUCTOR_LOG_LEVEL takes one of debug, info, warn, error, got "loud"',
    });
  });
});
