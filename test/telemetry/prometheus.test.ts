/**
 * Prometheus from Debian's packages (scripts/setup-prometheus.sh) scrapes a running `conductor serve` on 127.0.0.1,
 * sending the project's token with `authorization: credentials_file:` as docs/telemetry.md says, and its HTTP API
 * answers queries for Conductor's series after executions ran through a webhook. It also carries the traceparent
 * test of the webhook: an incoming `traceparent` becomes the parent of the execution's span, whose trace id the API
 * then gives with the execution.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OtlpReceiver, startOtlpReceiver } from "./otlp-receiver.ts";

const cli = fileURLToPath(new URL("../../host/bin/conductor.js", import.meta.url));

const PROJECT = `conductor: project/v1
blueprints: [.]
`;

const BLUEPRINT = `conductor: blueprint/v1
id: metered
inputs:
  word: { schema: { type: string } }
outputs:
  word: second.value
nodes:
  first:
    type: core.passthrough
    inputs: { value: inputs.word }
  second:
    type: core.passthrough
    inputs: { value: first.value }
`;

let dir: string;
let serve: ChildProcess | undefined;
let prometheus: ChildProcess | undefined;
let receiver: OtlpReceiver;
let url: string;
let token: string;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once("exit", done));
  child.kill("SIGTERM");
  await exited;
}

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  dir = await mkdtemp(join(tmpdir(), "conductor-prometheus-"));
  await writeFile(join(dir, "conductor.yaml"), PROJECT);
  await writeFile(join(dir, "metered.blueprint.yaml"), BLUEPRINT);
  serve = spawn(process.execPath, [cli, "serve", "--port", "0", "--project", dir, "--no-debugger"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: "50",
      OTEL_METRICS_EXPORTER: "otlp",
      OTEL_METRIC_EXPORT_INTERVAL: "200",
    },
  });
  url = await new Promise<string>((listening, failed) => {
    let output = "";
    serve!.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const found = /listening on (http:\/\/\S+)/.exec(output);
      if (found !== null) listening(found[1]!);
    });
    serve!.stderr!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    serve!.on("exit", (code) => failed(new Error(`conductor serve exited with ${code}: ${output}`)));
  });
  token = (await readFile(join(dir, ".conductor/api-token"), "utf8")).trim();
});

afterAll(async () => {
  await stop(prometheus);
  await stop(serve);
  await receiver.close();
  await rm(dir, { recursive: true, force: true });
});

async function runWebhook(headers: Record<string, string> = {}): Promise<{ executionId: string }> {
  const response = await fetch(`${url}/hooks/metered`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    body: JSON.stringify({ word: "hello" }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { executionId: string };
}

describe("conductor serve's /metrics, scraped by Prometheus", () => {
  it("refuses a scrape without the token", async () => {
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(401);
    expect(await response.text()).toContain("Authorization: Bearer");
  });

  it("gives Prometheus the executions, node attempts and process metrics", async () => {
    for (let i = 0; i < 3; i++) await runWebhook();
    const own = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(own.status).toBe(200);
    const text = await own.text();
    expect(text).toContain('conductor_executions_finished_total{blueprint="metered",status="completed"} 3');
    expect(text).not.toMatch(/execution_id|executionId/);

    const promDir = join(dir, "prometheus");
    await mkdir(promDir);
    const credentials = join(promDir, "token");
    await writeFile(credentials, token, { mode: 0o600 });
    const target = new URL(url).host;
    await writeFile(
      join(promDir, "prometheus.yml"),
      [
        "global: { scrape_interval: 1s, evaluation_interval: 1s }",
        "scrape_configs:",
        "  - job_name: conductor",
        "    scrape_interval: 1s",
        "    metrics_path: /metrics",
        `    authorization: { credentials_file: ${JSON.stringify(credentials)} }`,
        `    static_configs: [{ targets: [${JSON.stringify(target)}] }]`,
        "",
      ].join("\n"),
    );
    const port = await freePort();
    prometheus = spawn(
      "/usr/bin/prometheus",
      [
        `--config.file=${join(promDir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(promDir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    prometheus.stderr!.resume();
    const query = async (promql: string) => {
      try {
        const response = await fetch(
          `http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(promql)}`,
        );
        const body = (await response.json()) as {
          data: { result: { metric: Record<string, string>; value: [number, string] }[] };
        };
        return body.data.result.map((series) => ({ ...series.metric, value: Number(series.value[1]) }));
      } catch {
        return []; // not listening yet
      }
    };
    await expect
      .poll(() => query('up{job="conductor"}'))
      .toEqual([expect.objectContaining({ job: "conductor", value: 1 })]);
    await expect
      .poll(() => query("conductor_executions_finished_total"))
      .toEqual([expect.objectContaining({ blueprint: "metered", status: "completed", value: 3 })]);
    expect(await query("conductor_executions_started_total")).toEqual([
      expect.objectContaining({ blueprint: "metered", value: 3 }),
    ]);
    expect(
      await query('conductor_node_attempt_duration_seconds_count{node_type="core.passthrough"}'),
    ).toEqual([
      expect.objectContaining({
        node_type: "core.passthrough",
        runtime: "builtin",
        status: "completed",
        value: 6,
      }),
    ]);
    expect(await query('conductor_execution_duration_seconds_count{blueprint="metered"}')).toEqual([
      expect.objectContaining({ status: "completed", value: 3 }),
    ]);
    expect((await query("conductor_journal_commit_seconds_count"))[0]?.value).toBeGreaterThan(0);
    expect((await query("process_resident_memory_bytes"))[0]?.value).toBeGreaterThan(0);
  });

  it("pushes the same measurements over OTLP when the OTEL_* environment asks for it", async () => {
    const text = await (
      await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
    ).text();
    const finished = Number(
      /conductor_executions_finished_total\{blueprint="metered",status="completed"\} (\d+)/.exec(text)?.[1],
    );
    expect(finished).toBeGreaterThan(0);
    expect(text).toContain('conductor_runtime_invocations_queued{runtime="builtin"} 0');
    expect(text).toContain('conductor_runtime_invocations_in_flight{runtime="builtin"} 0');

    const latest = (name: string, attributes: Record<string, string> = {}) =>
      receiver.metrics
        .filter(
          (point) =>
            point.name === name &&
            Object.entries(attributes).every(([key, value]) => point.attributes[key] === value),
        )
        .at(-1);
    await expect
      .poll(
        () => latest("conductor.executions.finished", { blueprint: "metered", status: "completed" })?.value,
      )
      .toBe(finished);
    expect(latest("conductor.executions.started", { blueprint: "metered" })).toMatchObject({
      kind: "sum",
      value: finished,
      service: "conductor",
    });
    // Two nodes per execution, as /metrics counts them.
    expect(
      latest("conductor.node.attempt.duration", {
        node_type: "core.passthrough",
        runtime: "builtin",
        status: "completed",
      }),
    ).toMatchObject({ kind: "histogram", unit: "s", value: 2 * finished });
    expect(latest("conductor.execution.duration", { blueprint: "metered" })).toMatchObject({
      kind: "histogram",
      value: finished,
    });
    expect(latest("conductor.runtime.invocations.in_flight", { runtime: "builtin" })?.value).toBe(0);
    expect(latest("conductor.runtime.invocations.queued", { runtime: "builtin" })?.value).toBe(0);
    expect(latest("conductor.runtime.up", { runtime: "builtin" })).toMatchObject({ kind: "gauge", value: 1 });
    expect(latest("conductor.journal.commit.duration")?.value).toBeGreaterThan(0);
  });

  it("has conductor run push its measurements over OTLP before it exits", async () => {
    const runReceiver = await startOtlpReceiver();
    try {
      const run = spawn(
        process.execPath,
        [cli, "run", join(dir, "metered.blueprint.yaml"), "--input", "word=once", "--json", "--no-journal"],
        {
          stdio: ["ignore", "pipe", "pipe"],
          env: {
            ...process.env,
            OTEL_EXPORTER_OTLP_ENDPOINT: runReceiver.endpoint,
            OTEL_METRICS_EXPORTER: "otlp",
            // Far beyond the run: what arrives is the push made as the command exits.
            OTEL_METRIC_EXPORT_INTERVAL: "600000",
          },
        },
      );
      let stdout = "";
      run.stdout!.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      const code = await new Promise<number | null>((exited) => run.once("exit", exited));
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({ status: "completed", outputs: { word: "once" } });
      const point = (name: string) => runReceiver.metrics.filter((p) => p.name === name).at(-1);
      expect(point("conductor.executions.finished")).toMatchObject({
        kind: "sum",
        value: 1,
        attributes: { blueprint: "metered", status: "completed" },
      });
      expect(point("conductor.node.attempt.duration")).toMatchObject({ kind: "histogram", value: 2 });
    } finally {
      await runReceiver.close();
    }
  });

  it("makes a webhook's incoming traceparent the parent of the execution's span", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parentId = "00f067aa0ba902b7";
    const { executionId } = await runWebhook({ traceparent: `00-${traceId}-${parentId}-01` });
    await expect
      .poll(() =>
        receiver.spans.filter(
          (span) =>
            span.name === "execution metered" && span.attributes["conductor.execution.id"] === executionId,
        ),
      )
      .toEqual([expect.objectContaining({ traceId, parentSpanId: parentId, kind: 2 })]);
    const nodes = receiver.spans.filter(
      (span) => span.attributes["conductor.execution.id"] === executionId && span.name.startsWith("node "),
    );
    expect(nodes.map((span) => span.name).sort()).toEqual(["node first", "node second"]);
    for (const span of nodes) expect(span.traceId).toBe(traceId);

    // The API gives the execution's trace id (the debugger shows it): a Connect call with JSON.
    const response = await fetch(`${url}/conductor.api.v1.ConductorService/GetExecution`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ executionId }),
    });
    expect(response.status).toBe(200);
    const { execution } = (await response.json()) as { execution: { executionId: string; traceId: string } };
    expect(execution).toMatchObject({ executionId, traceId });
  });
});
