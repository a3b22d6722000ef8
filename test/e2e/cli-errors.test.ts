/**
 * How the `conductor` command reports errors: those met before a command gets going (opening the project or its
 * journal), and failures of a user's own node module, which the CLI's bundle must read like the sdk does.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { type CommandResult, runConductor } from "../fixtures/conductor-command.js";

function conductor(args: string[], cwd: string): Promise<CommandResult> {
  return runConductor(args, { cwd });
}

describe("conductor, on a journal written by a newer Conductor", () => {
  it("says so with exit code 3, in words and in --json, without a stack trace", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cli-errors-"));
    try {
      await writeFile(join(dir, "conductor.yaml"), "conductor: project/v1\n");
      await mkdir(join(dir, ".conductor"));
      const db = new DatabaseSync(join(dir, ".conductor", "journal.db"));
      db.exec("PRAGMA user_version = 99");
      db.close();

      const plain = await conductor(["history"], dir);
      expect(plain.code).toBe(3);
      expect(plain.stderr).toContain("was written by a newer Conductor (journal format 99;");
      expect(plain.stderr).not.toContain("    at ");

      const json = await conductor(["history", "--json"], dir);
      expect(json.code).toBe(3);
      expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: "project_invalid" } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("conductor run, on a user's node module that fails", () => {
  it("keeps the failure's type and retryable flag, so the retry policy applies", async () => {
    const project = fileURLToPath(new URL("./fixtures/user-node-project/", import.meta.url));
    const run = await conductor(["run", "flaky.blueprint.yaml", "--json", "--no-journal"], project);
    expect(run.code).toBe(1);
    const result = JSON.parse(run.stdout) as {
      status: string;
      nodes: Record<
        string,
        { attempt: number; failure: { type: string; retryable: boolean; message: string } }
      >;
    };
    expect(result.status).toBe("failed");
    expect(result.nodes.a).toMatchObject({
      attempt: 2,
      failure: { type: "http.unavailable", retryable: true, message: "upstream said 503" },
    });
  });
});

describe("conductor, on an execution id that is not recorded", () => {
  it("says so with exit code 5, for inspect, resume and rerun, in words and in --json", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cli-errors-"));
    try {
      await writeFile(join(dir, "conductor.yaml"), "conductor: project/v1\n");
      for (const args of [
        ["inspect", "nope"],
        ["resume", "nope"],
        ["rerun", "nope", "--from", "a"],
      ]) {
        const plain = await conductor(args, dir);
        expect(plain.code, args.join(" ")).toBe(5);
        expect(plain.stderr).toMatch(/^conductor: the (project's )?journal has no execution "nope"/);
        expect(plain.stderr).not.toContain("    at ");
        const json = await conductor([...args, "--json"], dir);
        expect(json.code).toBe(5);
        expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: "execution_not_found" } });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("conductor run, on a runtime that cannot start", () => {
  it("reports the start failure once, with exit code 4, and promises no retry it will not make", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cli-errors-"));
    try {
      await writeFile(
        join(dir, "conductor.yaml"),
        "conductor: project/v1\nblueprints: [.]\nruntimes:\n  bad:\n    kind: command\n    command: [/bin/false]\n",
      );
      await writeFile(
        join(dir, "a.blueprint.yaml"),
        "conductor: blueprint/v1\nid: a\nnodes:\n  n: { type: bad.node }\n",
      );
      const plain = await conductor(["run", "a.blueprint.yaml", "--no-journal"], dir);
      expect(plain.code).toBe(4);
      const lines = plain.stderr.split("\n").filter((line) => line !== "");
      expect(lines).toEqual([
        'conductor: runtime "bad" exited with code 1 before printing its handshake line (command: /bin/false); it wrote nothing to stderr',
      ]);

      const json = await conductor(["run", "a.blueprint.yaml", "--no-journal", "--json"], dir);
      expect(json.code).toBe(4);
      expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: "runtime_start_failed" } });
      expect(json.stderr).not.toContain("tries to start it again");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
