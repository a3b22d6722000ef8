/**
 * `conductor serve` and the executions of other processes on the same journal: two servers started together on a
 * fresh project both come up (opening and creating the journal is safe under concurrency), and a plain `conductor
 * serve` adopts the execution of a `conductor run` that was killed, at start and while it runs, without
 * re-running what completed.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { type RunningCommand, startConductor } from "../fixtures/conductor-command.js";
import { serveEnvironment, spawnServe } from "../fixtures/serve-process.js";

const cli = fileURLToPath(new URL("../../host/bin/conductor.js", import.meta.url));
const policyNodes = fileURLToPath(new URL("../fixtures/nodes/policy-nodes.ts", import.meta.url));
const env = serveEnvironment();

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 800; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting until ${what}`);
}

describe("conductor serve and other processes' executions", () => {
  const dirs: string[] = [];
  const commands: RunningCommand[] = [];

  afterEach(async () => {
    for (const command of commands.splice(0)) {
      if (command.child.exitCode === null && command.child.signalCode === null) {
        command.child.kill("SIGTERM");
        await command.exited;
      }
    }
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  const project = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), "serve-adopt-"));
    dirs.push(dir);
    await writeFile(
      join(dir, "conductor.yaml"),
      `conductor: project/v1\nnodes: [${JSON.stringify(policyNodes)}]\n`,
    );
    const file = JSON.stringify(join(dir, "effects.log"));
    await writeFile(
      join(dir, "saga.yaml"),
      `conductor: blueprint/v1
outputs: { value: after.value }
nodes:
  before: { type: test.record, config: { file: ${file}, label: before }, inputs: { value: { value: 3 } } }
  gate: { type: test.hang-once, inputs: { value: before.value, ms: { value: 600000 } } }
  after: { type: test.record, config: { file: ${file}, label: after }, inputs: { value: gate.value } }
`,
    );
    return dir;
  };

  const history = async (dir: string) =>
    JSON.parse(
      (await promisify(execFile)(process.execPath, [cli, "history", "--json", "--project", dir])).stdout,
    ) as {
      executionId: string;
      status: string;
      resumes?: number;
    }[];

  /** Runs the saga in a `conductor run` and SIGKILLs it while its gate runs; gives the execution's id. */
  const killedRun = async (dir: string): Promise<string> => {
    const run = startConductor(["run", join(dir, "saga.yaml"), "--json", "--events"], { env });
    commands.push(run);
    await until(
      () =>
        run
          .stdout()
          .split("\n")
          .some((line) => line.includes('"type":"node.started"') && line.includes('"nodeId":"gate"')),
      "the gate runs",
    );
    const executionId = /"executionId":"([0-9a-f-]+)"/.exec(run.stdout())![1]!;
    // The gate's start is committed at the end of the turn it was printed in: killed before that, the run would
    // leave no trace of it, and the adopted gate would run as its first attempt again (and hang).
    await until(async () => {
      const { stdout } = await promisify(execFile)(process.execPath, [
        cli,
        "inspect",
        executionId,
        "--json",
        "--project",
        dir,
      ]);
      return (
        (JSON.parse(stdout) as { nodes: Record<string, { status: string }> }).nodes.gate?.status === "running"
      );
    }, "the journal records the gate's start");
    run.child.kill("SIGKILL");
    await run.exited;
    return executionId;
  };

  const effects = async (dir: string) =>
    (await readFile(join(dir, "effects.log"), "utf8")).trim().split("\n");

  it("two servers started together on a fresh project both come up", async () => {
    for (let round = 0; round < 3; round++) {
      const dir = await project();
      const both = [0, 1].map(() => spawnServe(dir));
      commands.push(...both);
      await Promise.all(both.map((server) => server.listening));
      for (const server of both) expect(server.stderr()).not.toContain("database is locked");
    }
  });

  it("adopts at start the execution of a run that was killed, without re-running what completed", async () => {
    const dir = await project();
    const executionId = await killedRun(dir);
    const server = spawnServe(dir);
    commands.push(server);
    await server.listening;
    expect(server.stdout()).toContain("resumed   1 unfinished execution whose host is gone");
    expect(server.stderr()).toContain(`conductor serve: resumed orphaned execution ${executionId} of saga`);
    await until(
      async () =>
        (await history(dir)).find((entry) => entry.executionId === executionId)?.status === "completed",
      "the adopted execution completes",
    );
    expect((await history(dir)).find((entry) => entry.executionId === executionId)).toMatchObject({
      resumes: 1,
    });
    expect(await effects(dir)).toEqual(["before before", "after after"]);
  });

  it("adopts the execution of a run killed while it serves; with --no-resume it leaves it", async () => {
    const dir = await project();
    const idle = spawnServe(dir, { args: ["--no-resume"] });
    commands.push(idle);
    await idle.listening;
    expect(idle.stdout()).toContain("resumed   none (--no-resume)");
    const server = spawnServe(dir);
    commands.push(server);
    await server.listening;
    const executionId = await killedRun(dir);
    await until(
      async () =>
        (await history(dir)).find((entry) => entry.executionId === executionId)?.status === "completed",
      "the adopted execution completes",
    );
    expect(server.stderr()).toContain(`conductor serve: resumed orphaned execution ${executionId} of saga`);
    expect(idle.stderr()).not.toContain("resumed orphaned execution");
    expect(await effects(dir)).toEqual(["before before", "after after"]);
  });
});
