/**
 * `conductor serve` as a user runs it: it prints where the API, the debugger and the webhooks are, serves them, and
 * stops gracefully on SIGTERM, cancelling what runs. Runs the built CLI (host/dist), like the other CLI tests.
 */
import type { ChildProcess } from "node:child_process";
import { mkdir, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ExecutionStatus } from "@conductor/sdk/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveEnvironment, startServe } from "../../fixtures/serve-process.js";
import { writeProject } from "./api-fixture.js";
import { httpRequest, postJson } from "./http-request.js";
import { protocolClient } from "./protocol-clients.js";

const fakeRuntime = fileURLToPath(new URL("../../fixtures/fake-runtime.ts", import.meta.url));

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

  it("uses a token given in CONDUCTOR_TOKEN without printing it or making a token file", async () => {
    const other = await writeProject();
    try {
      const started = await startServe(other, {
        env: { ...serveEnvironment(), CONDUCTOR_TOKEN: "given-s3cret" },
      });
      server = started.child;
      expect(started.stdout()).not.toContain("given-s3cret");
      expect(started.stdout()).toContain('  auth      the token given ("Authorization: Bearer <token>")');
      expect(started.stdout()).toContain(`  debugger  ${started.url}/  (add #token=<token>)`);
      const api = protocolClient("connect", started.url, "given-s3cret");
      expect((await api.listBlueprints({})).blueprints.length).toBeGreaterThan(0);
      await expect(stat(join(other, ".conductor", "api-token"))).rejects.toThrow(/ENOENT/);
      const exited = new Promise((resolve) => started.child.once("exit", resolve));
      started.child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it("serves the API, webhooks and health with the project's token, then stops on SIGTERM, cancelling running executions", async () => {
    const started = await startServe(dir);
    const { child, url, stderr } = started;
    server = child;
    const stdout = started.stdout();
    // The token is made on the first start, kept in the project for its owner only, and printed in the debugger's
    // address.
    const tokenFile = join(dir, ".conductor", "api-token");
    const token = (await readFile(tokenFile, "utf8")).trim();
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    expect(stdout).toContain(`  debugger  ${url}/#token=${token}\n`);
    expect(stdout).toContain(`  webhooks  POST ${url}/hooks/<blueprint-id>`);
    expect(stdout).toMatch(/runtimes {2}builtin \(\d+ node types\), and \d+ blueprints? usable as nodes\n/);
    expect(stdout).toContain(
      `  auth      the project's token, in .conductor/api-token ("Authorization: Bearer <token>")`,
    );

    const health = await httpRequest(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: "ok" });
    const anonymous = await httpRequest(`${url}/conductor.api.v1.ConductorService/ListBlueprints`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(anonymous.status).toBe(401);
    expect(JSON.parse(anonymous.body).message).toBe(
      `this server requires a token: send the header "Authorization: Bearer <token>" (it is in the project's .conductor/api-token)`,
    );
    const api = protocolClient("grpc", url, token);
    const run = await api.runExecution({
      blueprint: { case: "blueprintId", value: "sum" },
      inputsJson: '{"a": 5}',
    });
    expect(JSON.parse(run.outputsJson)).toEqual({ sum: 7 });
    api.close();

    // A synchronous webhook waits for a 60 s execution; SIGTERM cancels it and the caller gets its answer.
    const waiting = postJson(`${url}/hooks/long`, {}, { authorization: `Bearer ${token}` });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const order: string[] = [];
    const exited = new Promise<number | null>((resolve) =>
      child.once("exit", (code) => {
        order.push("exited");
        resolve(code);
      }),
    );
    child.kill("SIGTERM");
    const answer = await waiting;
    order.push("answered");
    expect(answer.status).toBe(409);
    expect(answer.json.status).toBe("cancelled");
    // 409 cancelled, not 200: the answer came from the stop, not from the execution running its minute out.
    expect(await exited).toBe(0);
    // The caller was answered before the server went away.
    expect(order).toEqual(["answered", "exited"]);
    expect(stderr()).toContain("conductor serve: SIGTERM, shutting down");
    expect(stderr()).toContain("conductor serve: stopped");
  });

  it("with --resume, continues an execution whose server was killed mid-run", async () => {
    await writeFile(
      join(dir, "pause.blueprint.yaml"),
      "conductor: blueprint/v1\nid: pause\noutputs: { value: wait.value }\nnodes:\n  first: { type: core.passthrough, inputs: { value: { value: 7 } } }\n  wait: { type: core.delay, config: { ms: 1500 }, inputs: { value: first.value } }\n",
    );
    const killed = await startServe(dir);
    server = killed.child;
    const token = (await readFile(join(dir, ".conductor", "api-token"), "utf8")).trim();
    const api = protocolClient("connect", killed.url, token);
    const { executionId } = await api.startExecution({ blueprint: { case: "blueprintId", value: "pause" } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const exited = new Promise((resolve) => killed.child.once("exit", resolve));
    killed.child.kill("SIGKILL");
    await exited;

    const restarted = await startServe(dir, { args: ["--resume"] });
    server = restarted.child;
    expect(restarted.stdout()).toContain("resumed   1 unfinished execution");
    // The restarted server keeps the project's token.
    expect(restarted.stdout()).toContain(`#token=${token}\n`);
    const again = protocolClient("connect", restarted.url, token);
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

describe("conductor serve, on a project with a child runtime", () => {
  it("removes the blob and runtime socket directories of a server killed with SIGKILL when the next server starts", async () => {
    const dir = await writeProject({
      "conductor.yaml": `conductor: project/v1\nblueprints: [.]\nruntimes:\n  fake: { kind: command, command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(fakeRuntime)}] }\n`,
    });
    const socketDirs: string[] = [];
    const blobDirs = async () =>
      (await readdir(join(dir, ".conductor", "tmp")).catch(() => [] as string[])).filter((name) =>
        name.startsWith("blobs-"),
      );
    try {
      const killed = await startServe(dir);
      // The runtime's socket directory, in the system's temporary directory, named by the host's pid.
      socketDirs.push(...(await socketDirsOfChildren(killed.child.pid!)));
      expect(socketDirs).toHaveLength(1);
      const first = await blobDirs();
      expect(first).toHaveLength(1);
      expect((await stat(join(dir, ".conductor", "tmp", first[0]!))).mode & 0o777).toBe(0o700);
      const exited = new Promise((resolve) => killed.child.once("exit", resolve));
      killed.child.kill("SIGKILL");
      await exited;
      // Nobody cleaned up after the killed server.
      expect(await blobDirs()).toEqual(first);
      expect(basename(socketDirs[0]!)).toMatch(new RegExp(`^cdr-[0-9a-f]{8}-${killed.child.pid}-`));
      expect((await stat(socketDirs[0]!)).isDirectory()).toBe(true);

      const next = await startServe(dir);
      const second = await blobDirs();
      expect(second).toHaveLength(1);
      expect(second[0]).not.toBe(first[0]);
      expect(second[0]).toContain(`-${next.child.pid}-`);
      // The killed server's socket directory is gone; the new server's runtime has its own.
      await expect(stat(socketDirs[0]!)).rejects.toThrow(/ENOENT/);
      const nextSocketDirs = await socketDirsOfChildren(next.child.pid!);
      expect(nextSocketDirs).toHaveLength(1);
      expect(basename(nextSocketDirs[0]!)).toContain(`-${next.child.pid}-`);
      const stopped = new Promise((resolve) => next.child.once("exit", resolve));
      next.child.kill("SIGTERM");
      expect(await stopped).toBe(0);
      expect(await blobDirs()).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
      for (const socketDir of socketDirs) await rm(socketDir, { recursive: true, force: true });
    }
  });
});

describe("conductor serve, on a project whose blueprint folder links back to its parent", () => {
  it("starts, lists each blueprint once, and warns about the links it skipped", async () => {
    const dir = await writeProject();
    try {
      await mkdir(join(dir, "flows"));
      await symlink("..", join(dir, "flows", "up"));
      await symlink("..", join(dir, "flows", "again"));
      const started = await startServe(dir);
      const token = (await readFile(join(dir, ".conductor", "api-token"), "utf8")).trim();
      const api = protocolClient("connect", started.url, token);
      const { blueprints } = await api.listBlueprints({});
      const ids = blueprints.map((blueprint) => blueprint.id);
      expect(ids).toContain("greet");
      expect(new Set(ids).size).toBe(ids.length);
      const stopped = new Promise((resolve) => started.child.once("exit", resolve));
      started.child.kill("SIGTERM");
      expect(await stopped).toBe(0);
      expect(started.stderr()).toContain(
        `blueprint folder ${join("flows", "again")} leads to ${dir}, which is listed already; skipped it`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** The socket directories the host gave its runtime processes (`CONDUCTOR_SOCKET_DIR`), read from /proc. */
async function socketDirsOfChildren(pid: number): Promise<string[]> {
  const children = (await readFile(`/proc/${pid}/task/${pid}/children`, "utf8")).trim().split(/\s+/);
  const dirs: string[] = [];
  for (const child of children.filter((text) => text !== "")) {
    const environ = await readFile(`/proc/${child}/environ`, "utf8").catch(() => "");
    const entry = environ.split("\0").find((line) => line.startsWith("CONDUCTOR_SOCKET_DIR="));
    if (entry !== undefined) dirs.push(entry.slice("CONDUCTOR_SOCKET_DIR=".length));
  }
  return dirs;
}
