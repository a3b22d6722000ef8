import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { parseArgs } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConductor } from "../conductor.js";
import history from "./history-command.js";
import { journalPath } from "./open-conductor.js";

/** Runs `conductor history <args>` in-process; gives its exit code and what it wrote. */
async function runHistory(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const written = { stdout: "", stderr: "" };
  const stream = (name: "stdout" | "stderr") =>
    ({
      write(text: string) {
        written[name] += text;
        return true;
      },
    }) as NodeJS.WriteStream;
  const code = await history({ args, parseArgs, stdout: stream("stdout"), stderr: stream("stderr") });
  return { code, ...written };
}

describe("conductor history", () => {
  let dir: string;
  let original: string;
  let rerun: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "history-command-"));
    await writeFile(join(dir, "conductor.yaml"), "conductor: project/v1\n");
    const host = await createConductor({ projectDir: dir, journal: journalPath(dir) });
    const blueprint = {
      conductor: "blueprint/v1" as const,
      id: "pair",
      outputs: { value: "b.value" },
      nodes: {
        a: { type: "core.passthrough", inputs: { value: { value: 1 } } },
        b: { type: "core.passthrough", inputs: { value: "a.value" } },
      },
    };
    original = (await host.run(blueprint)).executionId;
    rerun = (await (await host.rerun(original, "b")).result).executionId;
    await host.close();
    // An execution a process that is gone was running (it names a pid no process has).
    const db = new DatabaseSync(journalPath(dir));
    db.exec(
      `INSERT INTO executions (id, blueprint_id, status, started_at, owner_id, owner_host, owner_pid, owner_started_at, owner_process, owner_label, lease_expires_at)
       VALUES ('cut-off', 'pair', 'running', 1, 'gone', '${hostname()}', 2147483646, 1, '', 'conductor run', ${Date.now() + 60_000})`,
    );
    db.close();
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("shows a re-run with the execution and node it re-runs from, and an orphan with what continues it", async () => {
    const { code, stdout } = await runHistory(["--project", dir]);
    expect(code).toBe(0);
    const lines = stdout.trim().split("\n");
    expect(lines[0]).toContain(rerun);
    expect(lines[0]).toContain(`(rerun of ${original} from b)`);
    expect(lines[1]).toContain(original);
    expect(lines[1]).not.toContain("rerun of");
    expect(lines[2]).toContain("cut-off");
    expect(lines[2]).toContain("orphaned");
    expect(lines[2]).toContain(
      "(its owner conductor run (pid 2147483646) is gone; `conductor resume cut-off` or `conductor serve` continues it)",
    );
  });

  it("lists orphans alone with --status orphaned, and gives lineage and owners with --json", async () => {
    const orphans = await runHistory(["--status", "orphaned", "--json", "--project", dir]);
    expect(JSON.parse(orphans.stdout)).toMatchObject([
      { executionId: "cut-off", status: "running", orphaned: "dead", owner: { pid: 2147483646 } },
    ]);
    const all = JSON.parse((await runHistory(["--json", "--project", dir])).stdout) as {
      executionId: string;
      lineage?: unknown;
    }[];
    expect(all.find((entry) => entry.executionId === rerun)?.lineage).toEqual({
      rerunOf: original,
      rerunFrom: "b",
    });
  });
});
