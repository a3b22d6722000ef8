/** Errors met before a command gets going (opening the project or its journal) are reported like any other. */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const cli = fileURLToPath(new URL("../../host/bin/conductor.js", import.meta.url));

function conductor(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { cwd }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
    });
  });
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
