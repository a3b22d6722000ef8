/**
 * The conformance kit fails a runtime that does not conform, saying what it expected and what it found, and the
 * `conductor conformance` command reports it with its exit status: the Node sidecar serving a kitchen sink with
 * deliberate mistakes (flawed-kitchen-sink.ts).
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type ConformanceReport, runConformance } from "@conductor/host";
import { beforeAll, describe, expect, it } from "vitest";

const repo = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const sidecar = (module: string) => [process.execPath, repo("runtimes/node/dist/main.js"), repo(module)];
const flawed = sidecar("test/conformance/flawed-kitchen-sink.ts");

describe("runConformance() against a flawed runtime", () => {
  let report: ConformanceReport;
  const status = (id: string) => report.results.find((result) => result.id === id);

  beforeAll(async () => {
    report = await runConformance({
      command: flawed,
      patienceMs: 10_000,
      only: [
        "handshake.rpc",
        "values.bytes",
        "discovery.ports-and-flags",
        "execute.one-step",
        "execute.report",
        "execute.stdout-noise",
        "cancel.during-step",
      ],
    });
  }, 120_000);

  it("passes what the runtime does right", () => {
    expect(status("handshake.rpc")?.status).toBe("passed");
    expect(status("values.bytes")?.status).toBe("passed");
  });

  it("fails what it does wrong, with what was expected and what was found", () => {
    expect(status("execute.one-step")).toMatchObject({
      status: "failed",
      expected: 'output "sum" 15',
      found: "16",
    });
    expect(status("discovery.ports-and-flags")).toMatchObject({
      status: "failed",
      found:
        "conformance.add must have the flag idempotent; conformance.add must have the flag deterministic",
    });
    expect(status("execute.report")?.status).toBe("failed");
    expect(status("execute.report")?.expected).toContain('"chunk items 2"');
    expect(status("execute.report")?.found).not.toContain('"chunk items 2"');
    expect(status("execute.stdout-noise")).toMatchObject({
      status: "failed",
      expected: "nothing on stdout after the handshake line",
      found: '"noise\\n"',
    });
    expect(status("cancel.during-step")?.status).toBe("failed");
    expect(status("cancel.during-step")?.found).toMatch(/^after 10000 ms: #\d+ step 0 started$/);
  });

  it("counts them and is not ok", () => {
    expect(report).toMatchObject({ passed: 2, failed: 5, skipped: 0, ok: false });
  });
});

describe("conductor conformance", () => {
  const conductor = (args: string[]) =>
    promisify(execFile)(process.execPath, [repo("host/bin/conductor.js"), "conformance", ...args]).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );

  it("prints a line per check and the closing line, and exits 0 when every check passed", async () => {
    const { code, stdout } = await conductor([
      "--only",
      "handshake.",
      "--",
      ...sidecar("test/conformance/kitchen-sink.ts"),
    ]);
    const lines = stdout.trim().split("\n");
    expect(
      lines.filter((line) => /^(pass|FAIL|skip) {2}/.test(line)).map((line) => line.split("  ")[1]),
    ).toEqual(["handshake.before-handshake", "handshake.rpc", "handshake.abi-choice", "handshake.repeat"]);
    expect(lines.at(-1)).toBe("4 passed, 0 failed");
    expect(code).toBe(0);
  }, 60_000);

  it("exits 1 when a check failed, and --json reports it for machines", async () => {
    const { code, stdout } = await conductor(["--json", "--only", "execute.one-step", "--", ...flawed]);
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as ConformanceReport & { command: string[] };
    expect(report.command).toEqual(flawed);
    expect(report).toMatchObject({ passed: 0, failed: 1, ok: false, runtime: { language: "typescript" } });
    expect(report.results[0]).toMatchObject({ id: "execute.one-step", status: "failed", found: "16" });
  }, 60_000);

  it("refuses a missing command and an --only that names no check, with exit status 2", async () => {
    const missing = await conductor(["--only", "cancel."]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("expected the runtime's command after --");
    const unknown = await conductor(["--only", "nope", "--", "true"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(
      '--only "nope" names no check; `conductor conformance --list` lists them',
    );
  });
});
