import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { formatCheckResult, formatSummary } from "./conformance-report.js";
import { conformanceChecks } from "./run-conformance.js";

describe("formatCheckResult()", () => {
  it("prints one line for a pass, and what was expected and found under a failure", () => {
    expect(
      formatCheckResult({ id: "cancel.unknown", title: "ignored", status: "passed", durationMs: 3 }),
    ).toBe("pass  cancel.unknown  ignored\n");
    expect(
      formatCheckResult({
        id: "execute.fail",
        title: "fails as configured",
        status: "failed",
        expected: 'a Failure {type: "thing.broken"}',
        found: '{type: "Error"}',
        durationMs: 5,
      }),
    ).toBe(
      'FAIL  execute.fail  fails as configured\n        expected: a Failure {type: "thing.broken"}\n        found:    {type: "Error"}\n',
    );
    expect(
      formatCheckResult({
        id: "values.arrow",
        title: "tables",
        status: "skipped",
        found: "no values.arrow",
        durationMs: 0,
      }),
    ).toBe("skip  values.arrow  tables\n        no values.arrow\n");
  });
});

describe("formatSummary()", () => {
  it("closes with N passed, M failed, and the skipped when there are some", () => {
    expect(formatSummary({ results: [], passed: 57, failed: 1, skipped: 0, ok: false })).toBe(
      "57 passed, 1 failed\n",
    );
    expect(formatSummary({ results: [], passed: 50, failed: 0, skipped: 3, ok: true })).toBe(
      "50 passed, 0 failed, 3 skipped\n",
    );
  });
});

describe("conformanceChecks", () => {
  it("have unique ids of the form <group>.<name>", () => {
    const ids = conformanceChecks.map((check) => check.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z-]+\.[a-z0-9-]+$/);
  });

  it("are each listed in docs/conformance.md", () => {
    const doc = readFileSync(fileURLToPath(new URL("../../../docs/conformance.md", import.meta.url)), "utf8");
    const missing = conformanceChecks.map((check) => check.id).filter((id) => !doc.includes(`| \`${id}\` |`));
    expect(missing).toEqual([]);
  });
});
