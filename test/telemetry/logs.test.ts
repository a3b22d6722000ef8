/**
 * The host's JSON log of one execution through every runtime: `conductor run --log-format json` with tracing on
 * (an OTLP receiver in this test). Every stderr line is a JSON object; each node of the fixture's `logged` blueprint
 * logs one line with a field in its own language (TypeScript in the host and in the Node sidecar, Python, Rust), and
 * each such line reaches the host's log with its execution, node, attempt and runtime, its fields, and the trace and
 * span id of the node attempt's span that the receiver got.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OtlpReceiver, startOtlpReceiver } from "./otlp-receiver.ts";

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

const {
  OTEL_SERVICE_NAME: _serviceName,
  CONDUCTOR_LOG_FORMAT: _format,
  CONDUCTOR_LOG_LEVEL: _level,
  TRACEPARENT: _traceparent,
  ...inherited
} = process.env;

type Line = Record<string, unknown> & { level: string; msg: string; event: string };

const parseLines = (stderr: string): Line[] =>
  stderr
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      try {
        return JSON.parse(line) as Line;
      } catch {
        throw new Error(`a stderr line is not JSON: ${line}`);
      }
    });

let receiver: OtlpReceiver;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
});

afterAll(async () => {
  await receiver.close();
});

describe("the JSON log of an execution through every runtime", () => {
  it("carries each runtime's node log line with its fields and the trace and span id of its attempt", async () => {
    const run = await conductor(["run", "logged.blueprint.yaml", "--json", "--log-format", "json"], {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: "50",
    });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { executionId: string };
    const lines = parseLines(run.stderr);
    const ofExecution = lines.filter((line) => line.execution_id === result.executionId);
    for (const line of lines) {
      expect(line.name).toBe("conductor");
      expect(["debug", "info", "warn", "error"]).toContain(line.level);
      expect(typeof line.time).toBe("string");
      expect(typeof line.msg).toBe("string");
    }
    expect(ofExecution[0]?.event).toBe("execution.started");
    expect(ofExecution.at(-1)).toMatchObject({ event: "execution.finished", status: "completed" });

    await expect
      .poll(() => ["inproc", "sidecar", "python", "rust"].filter((id) => spanOf(id) === undefined))
      .toEqual([]);
    const root = receiver.spans.find(
      (span) =>
        span.name === "execution logged" && span.attributes["conductor.execution.id"] === result.executionId,
    )!;
    function spanOf(nodeId: string) {
      return receiver.spans.find(
        (span) =>
          span.name === `node ${nodeId}` && span.attributes["conductor.execution.id"] === result.executionId,
      );
    }

    for (const [nodeId, runtime, message, level, fields] of [
      ["inproc", "builtin", "inproc says", "info", { x: 7 }],
      ["sidecar", "sidecar", "sidecar says", "warn", { x: 7 }],
      ["python", "python", "python says", "info", { x: 7 }],
      ["rust", "rust-kit", "hello from rust", "info", { n: 1 }],
    ] as const) {
      const logged = ofExecution.filter((line) => line.event === "node.log" && line.node === nodeId);
      expect(logged, `log lines of ${nodeId}`).toHaveLength(1);
      expect(logged[0]).toMatchObject({
        level,
        msg: message,
        blueprint: "logged",
        attempt: 1,
        runtime,
        fields,
        trace_id: root.traceId,
        span_id: spanOf(nodeId)!.spanId,
      });
      const events = ofExecution.filter((line) => line.node === nodeId).map((line) => line.event);
      expect(events).toEqual(["node.started", "node.log", "node.completed"]);
    }

    // `conductor inspect` shows the same trace id, in text and in --json.
    const inspected = await conductor(["inspect", result.executionId], {});
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(inspected.stdout).toContain(`trace ${root.traceId}\n`);
    const inspectedJson = await conductor(["inspect", result.executionId, "--json"], {});
    expect(JSON.parse(inspectedJson.stdout)).toMatchObject({
      executionId: result.executionId,
      traceId: root.traceId,
    });
  });

  it("reports an error that ends the command as a JSON line with its code", async () => {
    const run = await conductor(["run", "missing.blueprint.yaml", "--log-format", "json"], {});
    expect(run.code).toBe(3);
    const lines = parseLines(run.stderr);
    expect(lines.at(-1)).toMatchObject({ level: "error", event: "host.error", code: "blueprint_unreadable" });
    expect(lines.at(-1)?.msg).toContain("missing.blueprint.yaml");
  });

  it("parents the execution's span under a TRACEPARENT of the environment", async () => {
    const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const run = await conductor(["run", "traced.blueprint.yaml", "--json"], {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: "50",
      TRACEPARENT: parent,
      CONDUCTOR_LOG_FORMAT: "json",
    });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { executionId: string };
    const find = () =>
      receiver.spans.find(
        (span) =>
          span.name === "execution traced" &&
          span.attributes["conductor.execution.id"] === result.executionId,
      );
    await expect.poll(() => find() !== undefined).toBe(true);
    expect(find()).toMatchObject({
      traceId: "0af7651916cd43dd8448eb211c80319c",
      parentSpanId: "b7ad6b7169203331",
    });
    // The environment's CONDUCTOR_LOG_FORMAT asked for the JSON log: its lines carry the same trace id.
    const started = parseLines(run.stderr).find((line) => line.event === "execution.started");
    expect(started?.trace_id).toBe("0af7651916cd43dd8448eb211c80319c");
  });
});
