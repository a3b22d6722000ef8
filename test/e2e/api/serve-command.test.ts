/**
 * `conductor serve` as a user runs it: it prints where the API, the debugger and the webhooks are, serves them, and
 * stops gracefully on SIGTERM, cancelling what runs. Runs the built CLI (host/dist), like the other CLI tests.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ExecutionStatus } from "@conductor/sdk/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeProject } from "./api-fixture.js";
import { httpRequest, postJson } from "./http-request.js";
import { protocolClient } from "./protocol-clients.js";

const cli = fileURLToPath(new URL("../../../host/bin/conductor.js", import.meta.url));
const { CONDUCTOR_TOKEN: _ignored, ...env } = process.env;

describe("conductor serve", () => {
  let dir: string;
  let server: ChildProcess | undefined;
  beforeAll(async () => {
    dir = await writeProject();
  });
  afterAll(async () => {
    if (server !== undefined && server.exitCode === null) server.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses to bind 0.0.0.0 without a token, saying how to give one", async () => {
    const error = await promisify(execFile)(
      process.execPath,
      [cli, "serve", "--host", "0.0.0.0", "--project", dir],
      {
        env,
      },
    ).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(error?.code).toBe(2);
    expect(error?.stderr).toMatch(
      /^conductor serve: refusing to serve on 0\.0\.0\.0 without a token: .*--token <secret> or the CONDUCTOR_TOKEN environment variable/,
    );
  });

  it("serves the API, webhooks and health, then stops on SIGTERM, cancelling running executions", async () => {
    const child = spawn(process.execPath, [cli, "serve", "--port", "0", "--project", dir], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    server = child;
    let stdout = "";
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
        if (match !== null && stdout.includes("press Ctrl-C")) resolve(match[1]!);
      });
      child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
    });
    expect(stdout).toContain(`  debugger  ${url}/`);
    expect(stdout).toContain(`  webhooks  POST ${url}/hooks/<blueprint-id>`);
    expect(stdout).toMatch(/runtimes {2}builtin \(\d+ node types\), and \d+ blueprints? usable as nodes\n/);
    expect(stdout).toContain("auth      none (loopback only)");

    const health = await httpRequest(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: "ok" });
    const api = protocolClient("grpc", url);
    const run = await api.runExecution({
      blueprint: { case: "blueprintId", value: "sum" },
      inputsJson: '{"a": 5}',
    });
    expect(JSON.parse(run.outputsJson)).toEqual({ sum: 7 });
    api.close();

    // A synchronous webhook waits for a 60 s execution; SIGTERM cancels it and the caller gets its answer.
    const waiting = postJson(`${url}/hooks/long`, {});
    await new Promise((resolve) => setTimeout(resolve, 200));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    const stopAt = performance.now();
    child.kill("SIGTERM");
    const answer = await waiting;
    expect(answer.status).toBe(409);
    expect(answer.json.status).toBe("cancelled");
    expect(await exited).toBe(0);
    expect(performance.now() - stopAt).toBeLessThan(5_000);
    expect(stderr).toContain("conductor serve: SIGTERM, shutting down");
    expect(stderr).toContain("conductor serve: stopped");
  });

  it("with --resume, continues an execution whose server was killed mid-run", async () => {
    await writeFile(
      join(dir, "pause.blueprint.yaml"),
      "conductor: blueprint/v1\nid: pause\noutputs: { value: wait.value }\nnodes:\n  first: { type: core.passthrough, inputs: { value: { value: 7 } } }\n  wait: { type: core.delay, config: { ms: 1500 }, inputs: { value: first.value } }\n",
    );
    const killed = await startServe(dir, []);
    server = killed.child;
    const api = protocolClient("connect", killed.url);
    const { executionId } = await api.startExecution({ blueprint: { case: "blueprintId", value: "pause" } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const exited = new Promise((resolve) => killed.child.once("exit", resolve));
    killed.child.kill("SIGKILL");
    await exited;

    const restarted = await startServe(dir, ["--resume"]);
    server = restarted.child;
    expect(restarted.stdout).toContain("resumed   1 unfinished execution");
    const again = protocolClient("connect", restarted.url);
    let finished: { status: number; outputsJson: string } | undefined;
    for await (const { event } of again.watchExecution({ executionId })) {
      if (event?.kind.case === "executionFinished") finished = event.kind.value;
    }
    expect(finished?.status).toBe(ExecutionStatus.COMPLETED);
    expect(JSON.parse(finished!.outputsJson)).toEqual({ value: 7 });
    const exit = new Promise((resolve) => restarted.child.once("exit", resolve));
    restarted.child.kill("SIGTERM");
    expect(await exit).toBe(0);
  });
});

/** Starts `conductor serve --port 0` on a project; resolves once it listens, with its URL and what it printed. */
function startServe(
  projectDir: string,
  args: string[],
): Promise<{ child: ChildProcess; url: string; stdout: string }> {
  const child = spawn(process.execPath, [cli, "serve", "--port", "0", "--project", projectDir, ...args], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (match !== null && stdout.includes("press Ctrl-C")) resolve({ child, url: match[1]!, stdout });
    });
    child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
}
