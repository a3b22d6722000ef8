/**
 * A host killed while a stream's reader still runs (docs/streaming.md, "Resume"): a stream's items are not in the
 * journal, so `conductor resume` runs its producer again from its first item for the reader that had not
 * completed, while a reader that had completed keeps its result and does not run again.
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
const nodes = fileURLToPath(new URL("./streaming-resume-nodes.ts", import.meta.url));

describe("resuming an execution whose host died mid-stream", () => {
  let dir: string;
  let host: ChildProcess | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "stream-resume-"));
    await writeFile(
      join(dir, "conductor.yaml"),
      `conductor: project/v1\nnodes: [${JSON.stringify(nodes)}]\n`,
    );
    const file = JSON.stringify(join(dir, "effects.log"));
    await writeFile(
      join(dir, "segment.yaml"),
      `conductor: blueprint/v1
inputs:
  hangMs: { schema: { type: integer }, default: 0 }
outputs: { fast: fast.sum, slow: slow.sum, count: slow.count }
nodes:
  numbers: { type: sr.numbers, config: { file: ${file} }, inputs: { n: { value: 100 } } }
  fast:    { type: sr.sum, config: { file: ${file} }, inputs: { items: numbers.items } }
  slow:    { type: sr.sum, config: { file: ${file} }, inputs: { items: numbers.items, hangMs: inputs.hangMs } }
`,
    );
  });

  afterAll(async () => {
    if (host?.exitCode === null) host.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  const effects = async () =>
    (await readFile(join(dir, "effects.log"), "utf8").catch(() => "")).trim().split("\n").filter(Boolean);

  it("runs the producer again from its first item for the reader that had not completed, and only for it", async () => {
    const command = startConductor(["run", join(dir, "segment.yaml"), "-i", "hangMs=60000", "--quiet"]);
    host = command.child;
    const { stderr } = command;
    // Wait until the journal says: the producer and the fast reader completed, the slow reader still runs.
    let executionId = "";
    let statuses: Record<string, string> = {};
    for (let i = 0; i < 400; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (!(await effects()).includes("slow read 100 and waits")) continue;
      const history = JSON.parse(
        (await run(process.execPath, [cli, "history", "--json", "--project", dir])).stdout,
      ) as { executionId: string }[];
      executionId = history[0]!.executionId;
      const detail = JSON.parse(
        (await run(process.execPath, [cli, "inspect", executionId, "--json", "--project", dir])).stdout,
      ) as { nodes: Record<string, { status: string }> };
      statuses = Object.fromEntries(Object.entries(detail.nodes).map(([id, node]) => [id, node.status]));
      if (statuses.numbers === "completed" && statuses.fast === "completed" && statuses.slow === "running")
        break;
    }
    expect(statuses, stderr()).toEqual({ numbers: "completed", fast: "completed", slow: "running" });
    host.kill("SIGKILL");
    await new Promise((resolve) => host!.once("exit", resolve));

    const resumed = await run(process.execPath, [
      cli,
      "resume",
      executionId,
      "--json",
      "--project",
      dir,
    ]).then(
      (done) => done.stdout,
      (error: { stdout: string; stderr: string }) => `${error.stdout}${error.stderr}`,
    );
    const result = JSON.parse(resumed) as {
      status: string;
      outputs: unknown;
      nodes: Record<string, { attempt: number; status: string }>;
    };
    expect(result.status, resumed).toBe("completed");
    expect(result.outputs).toEqual({ fast: 4950, slow: 4950, count: 100 });
    // Before the kill, each ran once; after it, the producer ran again (its stream was not journaled) and the slow
    // reader read it whole; the fast reader, completed before the kill, did not run again.
    const lines = await effects();
    expect(lines.slice(0, 3).sort()).toEqual(["fast attempt 1", "numbers attempt 1", "slow attempt 1"]);
    expect(lines.slice(3)).toEqual(["slow read 100 and waits", "numbers attempt 2", "slow attempt 2"]);
    expect(result.nodes.numbers).toMatchObject({ status: "completed", attempt: 2 });
    expect(result.nodes.fast).toMatchObject({ status: "completed", attempt: 1 });
    expect(result.nodes.slow).toMatchObject({ status: "completed", attempt: 2 });
  });
});
