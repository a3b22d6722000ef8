/**
 * `conductor serve` with a runtime that does not start: the server comes up and serves every blueprint that does not
 * need that runtime, says which runtime is broken and why (in its output, `/healthz` and the executions that need
 * it), and `/livez` still says the server is alive.
 */
import type { ChildProcess } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnServe } from "../../fixtures/serve-process.js";
import { writeProject } from "./api-fixture.js";
import { httpRequest } from "./http-request.js";
import { CallError, protocolClient } from "./protocol-clients.js";

const fakeRuntime = fileURLToPath(new URL("../../fixtures/fake-runtime.ts", import.meta.url));

describe("conductor serve with a broken runtime", () => {
  let dir: string;
  let server: ChildProcess | undefined;
  beforeAll(async () => {
    dir = await writeProject({
      "conductor.yaml": `conductor: project/v1
blueprints: [.]
runtimes:
  flaky:
    kind: command
    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(fakeRuntime)}]
    env: { FAKE_RUNTIME_MODE: exit-on-start }
`,
      "needs-flaky.blueprint.yaml": `conductor: blueprint/v1
id: needs-flaky
nodes:
  sum: { type: conformance.add, runtime: flaky, inputs: { a: { value: 1 }, b: { value: 2 } } }
`,
    });
  });
  afterAll(async () => {
    if (server !== undefined && server.exitCode === null) server.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  it("serves the rest, reports the broken runtime, and answers 503 on /healthz but 200 on /livez", async () => {
    const started = spawnServe(dir);
    const { child, stderr } = started;
    server = child;
    const url = await started.listening;
    const stdout = started.stdout();
    expect(stdout).toMatch(
      /\n {2}broken {4}runtime "flaky": runtime "flaky" exited with code 1 before printing its handshake line .*fake runtime: fatal: cannot open config file fake\.toml/s,
    );
    expect(stdout).toContain(
      `  health    ${url}/healthz (runtimes; 503 while one is broken), ${url}/livez (the server)`,
    );
    expect(stderr()).toContain('conductor: runtime "flaky" is broken: runtime "flaky" exited with code 1');

    // The reasons are told to callers with the token, which the first serve made for the project.
    const token = (await readFile(join(dir, ".conductor", "api-token"), "utf8")).trim();
    const health = await httpRequest(`${url}/healthz`, { headers: { authorization: `Bearer ${token}` } });
    expect(health.status).toBe(503);
    const report = JSON.parse(health.body) as { status: string; runtimes: Record<string, unknown>[] };
    expect(report.status).toBe("broken");
    expect(report.runtimes.find((runtime) => runtime.name === "builtin")).toMatchObject({ state: "ok" });
    expect(report.runtimes.find((runtime) => runtime.name === "flaky")).toMatchObject({
      state: "broken",
      restarts: 0,
      nodeTypes: 0,
      reason: expect.stringMatching(/^runtime "flaky" exited with code 1 before printing its handshake line/),
    });
    expect(await httpRequest(`${url}/livez`)).toMatchObject({ status: 200, body: "ok\n" });

    const api = protocolClient("connect", url, token);
    const sum = await api.runExecution({
      blueprint: { case: "blueprintId", value: "sum" },
      inputsJson: '{"a": 5}',
    });
    expect(JSON.parse(sum.outputsJson)).toEqual({ sum: 7 });
    const refused = await api.runExecution({ blueprint: { case: "blueprintId", value: "needs-flaky" } }).then(
      () => undefined,
      (error: unknown) => error as CallError,
    );
    expect(refused).toBeInstanceOf(CallError);
    expect(refused!.message).toMatch(
      /^runtime "flaky" exited with code 1 before printing its handshake line/,
    );
    expect(refused!.message).not.toContain("unknown node type");
    api.close();

    const exit = new Promise<number | null>((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    expect(await exit).toBe(0);
  });
});
