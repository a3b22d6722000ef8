/**
 * Traces of one execution through every runtime: `conductor run` with the standard OTEL_* environment pointing at
 * an OTLP receiver in this test. The host's spans (execution → dispatch → node attempt; in-process nodes have no
 * dispatch) and the spans that node code creates with the OpenTelemetry API in the host itself, the Node sidecar,
 * Python and Rust arrive in one trace, each a child of the span of its node attempt.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedis } from "../distributed/redis-server.js";
import { startConductor } from "../fixtures/conductor-command.js";
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from "./otlp-receiver.ts";

const cli = fileURLToPath(new URL("../../host/bin/conductor.js", import.meta.url));
const project = fileURLToPath(new URL("./fixtures/traced-project/", import.meta.url));

function conductor(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { cwd: project, env: { ...inherited, ...env } },
      (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
      },
    );
  });
}

// Each process names its own service: one given to all of them would hide which process sent a span.
const { OTEL_SERVICE_NAME: _serviceName, CONDUCTOR_REDIS: _redis, ...inherited } = process.env;

let receiver: OtlpReceiver;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
});

afterAll(async () => {
  await receiver.close();
});

describe("traces of an execution through every runtime", () => {
  it("nests the spans of Node, Python and Rust user code under the host's span of their node attempt", async () => {
    const run = await conductor(["run", "traced.blueprint.yaml", "--json"], {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: "50",
    });
    expect(run.stderr).not.toContain("OpenTelemetry tracing is off");
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { executionId: string; outputs: { x: number } };
    expect(result.outputs.x).toBe(7);

    const wanted = ["inproc work", "node work", "python work", "rust work"];
    // Runtimes export on their own schedule: wait (boundedly) until every expected span has arrived.
    await expect
      .poll(() => wanted.filter((name) => !receiver.spans.some((span) => span.name === name)))
      .toEqual([]);

    const spans = receiver.spans.filter(
      (span) =>
        span.attributes["conductor.execution.id"] === result.executionId ||
        !("conductor.execution.id" in span.attributes),
    );
    const byName = (name: string): ReceivedSpan => {
      const found = spans.filter((span) => span.name === name);
      expect(found, `spans named "${name}"`).toHaveLength(1);
      return found[0]!;
    };
    const root = byName("execution traced");
    expect(root.parentSpanId).toBe("");
    expect(root.service).toBe("conductor");
    expect(root.attributes["conductor.execution.status"]).toBe("completed");
    expect(root.attributes["conductor.blueprint.id"]).toBe("traced");
    expect(byName("execution.started").parentSpanId).toBe(root.spanId);
    for (const span of spans) expect(span.traceId, span.name).toBe(root.traceId);

    const attempt = (nodeId: string, runtime: string, nodeType: string) => {
      const span = byName(`node ${nodeId}`);
      expect(span.attributes).toMatchObject({
        "conductor.execution.id": result.executionId,
        "conductor.node.id": nodeId,
        "conductor.node.type": nodeType,
        "conductor.runtime": runtime,
        "conductor.node.attempt": 1,
        "conductor.node.status": "completed",
      });
      if (runtime === "builtin") {
        // The host's own runtime is sent nothing: no dispatch span, the attempt is the execution's child.
        expect(span.parentSpanId).toBe(root.spanId);
        return span;
      }
      const dispatch = spans.find((candidate) => candidate.spanId === span.parentSpanId);
      expect(dispatch?.name).toBe(`dispatch ${runtime}`);
      expect(dispatch?.kind).toBe(3);
      expect(dispatch?.parentSpanId).toBe(root.spanId);
      return span;
    };

    // In the host: the node's code runs in the attempt span's context.
    const inproc = attempt("inproc", "builtin", "fx.inproc-traced");
    expect(byName("inproc work").parentSpanId).toBe(inproc.spanId);
    expect(byName("inproc work").service).toBe("conductor");

    // In each runtime process: the user's span is a child of the attempt's span, sent across the ABI; the runtime
    // makes no span of its own.
    for (const [nodeId, runtime, nodeType, work, service] of [
      ["sidecar", "sidecar", "fx.sidecar-traced", "node work", "conductor-runtime-node"],
      ["python", "python", "py.traced", "python work", "conductor-runtime-python"],
      ["rust", "rust", "rs.traced", "rust work", "conductor-runtime-rust"],
    ] as const) {
      const span = attempt(nodeId, runtime, nodeType);
      expect(byName(work).parentSpanId, work).toBe(span.spanId);
      expect(byName(work).service).toBe(service);
    }
    expect(spans.filter((span) => span.name.startsWith("run ")).map((span) => span.name)).toEqual([]);
  });

  it("nests the spans of Node code that a worker runs in its own process under the host's node span", async () => {
    const redis = await startRedis();
    const env = {
      ...inherited,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: "50",
    };
    const worker = startConductor(
      ["worker", "--redis", redis.url, "--runtimes", "sidecar", "--in-process", "--id", "traced"],
      { cwd: project, env },
    );
    try {
      await expect
        .poll(() => worker.output(), { timeout: 60_000 })
        .toContain(`serves "sidecar" (in the worker's own process)`);
      const run = await conductor(
        ["run", "traced.blueprint.yaml", "--json", "--redis", redis.url, "--remote", "sidecar"],
        env,
      );
      expect(run.code, run.stderr).toBe(0);
      const result = JSON.parse(run.stdout) as { executionId: string; outputs: { x: number } };
      expect(result.outputs.x).toBe(7);
      const root = () =>
        receiver.spans.find(
          (span) =>
            span.name === "execution traced" &&
            span.attributes["conductor.execution.id"] === result.executionId,
        );
      const work = () =>
        receiver.spans.filter((span) => span.name === "node work" && span.traceId === root()?.traceId);
      await expect.poll(() => work().length).toBe(1);
      const attempt = receiver.spans.find(
        (span) =>
          span.name === "node sidecar" && span.attributes["conductor.execution.id"] === result.executionId,
      );
      expect(attempt?.attributes["conductor.runtime"]).toBe("sidecar");
      expect(work()[0]!.parentSpanId).toBe(attempt!.spanId);
      expect(work()[0]!.service).toBe("conductor-worker");
      expect(worker.output()).not.toContain("OpenTelemetry tracing is off");
    } finally {
      worker.child.kill("SIGTERM");
      await worker.exited;
      await redis.stop();
    }
  });
});
