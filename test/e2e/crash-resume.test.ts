/**
 * The durability promise, tested the hard way: a `conductor run` is SIGKILLed while a node runs, `conductor resume`
 * finishes the execution, and no node that had completed before the kill runs again (each node appends a line to a
 * side-effect file every time it runs), while the outputs equal those of an uninterrupted run. Nodes run in the
 * host and in the Node sidecar. Ownership too: nobody resumes the execution while its host lives; once it is dead,
 * history shows an orphan, and of two processes resuming it at once exactly one runs it.
 */
import { type ChildProcess, execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startConductor } from "../fixtures/conductor-command.js";

const run = promisify(execFile);
const cli = fileURLToPath(new URL("../../host/bin/conductor.js", import.meta.url));
const policyNodes = fileURLToPath(new URL("../fixtures/nodes/policy-nodes.ts", import.meta.url));

describe("a host killed mid-execution", () => {
  let dir: string;
  let host: ChildProcess | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "crash-"));
    await writeFile(
      join(dir, "conductor.yaml"),
      `conductor: project/v1\nnodes: [${JSON.stringify(policyNodes)}]\nruntimes:\n  node: { kind: node, modules: [${JSON.stringify(policyNodes)}] }\n`,
    );
    const file = JSON.stringify(join(dir, "effects.log"));
    await writeFile(
      join(dir, "saga.yaml"),
      `conductor: blueprint/v1
inputs:
  hangMs: { schema: { type: integer }, default: 0 }
outputs: { last: four.value, gate: gate.value }
nodes:
  one:   { type: test.record, config: { file: ${file}, label: one }, inputs: { value: { value: 1 } } }
  two:   { type: test.record, runtime: node, config: { file: ${file}, label: two }, inputs: { value: one.value } }
  gate:  { type: test.hang-once, runtime: node, inputs: { value: two.value, ms: inputs.hangMs } }
  three: { type: test.record, config: { file: ${file}, label: three }, inputs: { value: gate.value } }
  four:  { type: test.record, runtime: node, config: { file: ${file}, label: four }, inputs: { value: three.value } }
`,
    );
  });

  afterAll(async () => {
    if (host?.exitCode === null) host.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  const effects = async () =>
    (await readFile(join(dir, "effects.log"), "utf8").catch(() => "")).trim().split("\n").filter(Boolean);

  it("resumes without re-running completed nodes and ends with the outputs of an uninterrupted run", async () => {
    const command = startConductor(["run", join(dir, "saga.yaml"), "-i", "hangMs=60000", "--quiet"]);
    host = command.child;
    const { stderr } = command;
    // Wait until the gate node is running: one and two have completed and recorded their side effects.
    let history: { executionId: string; status: string }[] = [];
    for (let i = 0; i < 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      if ((await effects()).length === 2) {
        const listed = await run(process.execPath, [cli, "history", "--json", "--project", dir]);
        history = JSON.parse(listed.stdout) as typeof history;
        const detail = JSON.parse(
          (await run(process.execPath, [cli, "inspect", history[0]!.executionId, "--json", "--project", dir]))
            .stdout,
        ) as {
          nodes: Record<string, { status: string }>;
        };
        if (detail.nodes.gate?.status === "running") break;
      }
    }
    expect(await effects(), stderr()).toEqual(["one one", "two two"]);
    expect(history).toHaveLength(1);
    const executionId = history[0]!.executionId;

    // While its host lives, nobody else may resume it: the refusal names the host.
    const refused = await run(process.execPath, [cli, "resume", executionId, "--project", dir]).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(refused?.code).toBe(6);
    expect(refused?.stderr).toMatch(
      new RegExp(
        `^conductor: execution "${executionId}" is running in another process: conductor run \\(pid ${host.pid} on host ".+", started .+\\), whose lease runs until .+; wait for it to finish, or stop that process`,
      ),
    );

    host.kill("SIGKILL");
    await new Promise((resolve) => host!.once("exit", resolve));
    const afterKill = JSON.parse(
      (await run(process.execPath, [cli, "history", "--json", "--project", dir])).stdout,
    ) as { status: string; orphaned?: string; owner?: { pid: number } }[];
    expect(afterKill[0]).toMatchObject({ status: "running", orphaned: "dead", owner: { pid: host.pid } });
    const listed = await run(process.execPath, [cli, "history", "--project", dir]);
    expect(listed.stdout).toContain("orphaned");
    expect(listed.stdout).toContain(
      `\`conductor resume ${executionId}\` or \`conductor serve\` continues it`,
    );

    // Two processes resume it at once: exactly one runs it, the other is refused (the side effects below show
    // that no node ran twice).
    const both = await Promise.all(
      [0, 1].map(() =>
        run(process.execPath, [cli, "resume", executionId, "--json", "--project", dir]).then(
          (done) => ({ code: 0, stdout: done.stdout, stderr: done.stderr }),
          (error: { code: number; stdout: string; stderr: string }) => error,
        ),
      ),
    );
    expect(both.map((outcome) => outcome.code).sort()).toEqual([0, 6]);
    const resumed = both.find((outcome) => outcome.code === 0)!;
    const loser = both.find((outcome) => outcome.code === 6)!;
    // Refused while the other runs it, or once the other has finished it: either way it ran once (see below).
    expect(["execution_running", "execution_finished"]).toContain(
      (JSON.parse(loser.stdout) as { error: { code: string } }).error.code,
    );
    const result = JSON.parse(resumed.stdout) as {
      status: string;
      executionId: string;
      outputs: unknown;
      nodes: Record<string, { attempt: number }>;
    };
    expect(result.status).toBe("completed");
    expect(result.executionId).toBe(executionId);
    // one and two ran once; the gate ran again (it had not completed); three and four ran once, after the resume.
    expect(await effects()).toEqual(["one one", "two two", "three three", "four four"]);
    expect(result.nodes.gate!.attempt).toBe(2);

    const uninterrupted = await run(process.execPath, [
      cli,
      "run",
      join(dir, "saga.yaml"),
      "--json",
      "--no-journal",
    ]);
    expect(result.outputs).toEqual((JSON.parse(uninterrupted.stdout) as { outputs: unknown }).outputs);

    const history2 = JSON.parse(
      (await run(process.execPath, [cli, "history", "--json", "--project", dir])).stdout,
    ) as { status: string; resumes?: number; orphaned?: string }[];
    expect(history2[0]).toMatchObject({ status: "completed", resumes: 1 });
    expect(history2[0]!.orphaned).toBeUndefined();

    // inspect shows the whole execution: the nodes completed before the kill too, and its time from the start.
    const inspected = JSON.parse(
      (await run(process.execPath, [cli, "inspect", executionId, "--json", "--project", dir])).stdout,
    ) as {
      startedAt: number;
      finishedAt: number;
      durationMs: number;
      nodes: Record<string, { status: string; attempt: number }>;
    };
    expect(Object.keys(inspected.nodes).sort()).toEqual(["four", "gate", "one", "three", "two"]);
    expect(inspected.nodes.one).toMatchObject({ status: "completed", attempt: 1 });
    expect(inspected.nodes.gate).toMatchObject({ status: "completed", attempt: 2 });
    expect(inspected.durationMs).toBe(inspected.finishedAt - inspected.startedAt);
  });
});
