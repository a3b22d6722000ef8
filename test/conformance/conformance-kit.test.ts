/**
 * The conformance kit (`conductor conformance`, `runConformance`) against every child runtime Conductor ships:
 * each passes every check, driven directly over the ABI. Select runtimes with CONDUCTOR_CONFORMANCE_RUNTIMES.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CheckResult, runConformance } from "@conductor/host";
import { describe, expect, it } from "vitest";
import { type RuntimeUnderTest, selectedRuntimes } from "./runtimes-under-test.js";

/**
 * Checks a runtime fails today only because a change owned elsewhere has not landed yet. Each entry says which;
 * the test asserts these checks still fail, so that it breaks (and the entry must go) the day they pass.
 */
const PENDING: Record<string, Record<string, string>> = {
  node: {
    "values.json-big-integers":
      "issue 11 item 3: a TypeScript node receives JSON.parse results, so conformance.echo rounds integers beyond 2^53",
  },
};

const childRuntimes = selectedRuntimes().filter(
  (runtime): runtime is RuntimeUnderTest & { command: string[] } => runtime.command !== undefined,
);

describe.each(childRuntimes)("runConformance() against runtime $name ($language)", (runtime) => {
  it("passes every check of the kit", async () => {
    const workDir = await mkdtemp(join(tmpdir(), "kit-"));
    try {
      const results: CheckResult[] = [];
      // More patience than the default: CI machines are shared, and the kit waits only as long as it must.
      const report = await runConformance({
        command: runtime.command,
        workDir,
        patienceMs: 20_000,
        onResult: (result) => results.push(result),
      });

      const pending = PENDING[runtime.name] ?? {};
      const unexpected = report.results
        .filter((result) => result.status !== "passed" && pending[result.id] === undefined)
        .map((result) => `${result.id} ${result.status}: expected ${result.expected}; found ${result.found}`);
      expect(unexpected).toEqual([]);
      for (const id of Object.keys(pending)) {
        const status = report.results.find((result) => result.id === id)?.status;
        expect(status, `${id} (${pending[id]})`).toBe("failed");
      }
      expect(report.runtime?.language).toBe(runtime.language);
      expect(report.failed).toBe(Object.keys(pending).length);
      expect(report.passed + report.failed + report.skipped).toBe(report.results.length);
      // Every result was reported as it came, in order.
      expect(results.map((result) => result.id)).toEqual(report.results.map((result) => result.id));
      // Every socket and blob directory the kit made is gone.
      expect(await readdir(workDir)).toEqual([]);
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }, 600_000);
});
