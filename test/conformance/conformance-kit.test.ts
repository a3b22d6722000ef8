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

      const failed = report.results
        .filter((result) => result.status !== "passed")
        .map((result) => `${result.id} ${result.status}: expected ${result.expected}; found ${result.found}`);
      expect(failed).toEqual([]);
      expect(report.runtime?.language).toBe(runtime.language);
      expect(report.failed).toBe(0);
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
