/**
 * The durability promise, tested the hard way: a `conductor run` is SIGKILLed while a node runs, `conductor resume`
 * finishes the execution, and no node that had completed before the kill runs again (each node appends a line to a
 * side-effect file every time it runs), while the outputs equal those of an uninterrupted run. Nodes run in the
 * host and in the Node sidecar.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

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
    host = spawn(process.execPath, [cli, "run", join(dir, "saga.yaml"), "-i", "hangMs=60000", "--quiet"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    host.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
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
    expect(await effects(), stderr).toEqual(["one one", "two two"]);
    expect(history).toHaveLength(1);
    const executionId = history[0]!.executionId;

    host.kill("SIGKILL");
    await new Promise((resolve) => host!.once("exit", resolve));
    const afterKill = JSON.parse(
      (await run(process.execPath, [cli, "history", "--json", "--project", dir])).stdout,
    ) as { status: string }[];
    expect(afterKill[0]!.status).toBe("running");

    const resumed = await run(process.execPath, [cli, "resume", executionId, "--json", "--project", dir]);
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
    ) as { status: string }[];
    expect(history2[0]!.status).toBe("completed");
  });
});
