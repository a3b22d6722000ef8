import { mkdtemp, readdir, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConductor } from "../conductor.js";
import { EXIT } from "./command.js";
import inspect from "./inspect-command.js";
import { journalPath } from "./open-conductor.js";

/** Runs `conductor inspect <args>` in-process; gives its exit code and what it wrote. */
async function runInspect(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const written = { stdout: "", stderr: "" };
  const stream = (name: "stdout" | "stderr") =>
    ({
      write(text: string) {
        written[name] += text;
        return true;
      },
    }) as NodeJS.WriteStream;
  const code = await inspect({ args, parseArgs, stdout: stream("stdout"), stderr: stream("stderr") });
  return { code, ...written };
}

describe("conductor inspect", () => {
  let dir: string;
  let executionId: string;
  /** 3 MB of text: stored in the journal's blob directory, not in its rows. */
  const large = `${"0123456789".repeat(300_000)}end`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "inspect-command-"));
    await writeFile(join(dir, "conductor.yaml"), "conductor: project/v1\n");
    const host = await createConductor({ projectDir: dir, journal: journalPath(dir) });
    const result = await host.run(
      {
        conductor: "blueprint/v1",
        id: "echo",
        inputs: { text: { schema: { type: "string" } } },
        outputs: { text: "copy.value" },
        nodes: { copy: { type: "core.passthrough", inputs: { value: "inputs.text" } } },
      },
      { text: large },
    );
    executionId = result.executionId;
    await host.close();
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("previews a large value from the first bytes of its blob, without reading the rest", async () => {
    // Cut every blob short: reading one whole would fail its size check, so only a preview can succeed.
    const blobs = join(dir, ".conductor", "blobs");
    const files = await readdir(blobs);
    expect(files.length).toBe(1);
    for (const file of files) await truncate(join(blobs, file), 64 * 1024);

    const { code, stdout, stderr } = await runInspect([executionId, "--project", dir]);
    expect(stderr).toBe("");
    expect(code).toBe(EXIT.ok);
    expect(stdout).toContain(`outputs\n  text: ${large.slice(0, 4_000)}… (3,000,005 bytes of JSON in all)\n`);
    expect(stdout).toContain(
      `  outputs\n    value: ${large.slice(0, 400)}… (3,000,005 bytes of JSON in all)\n`,
    );
    expect(stdout).not.toContain("end");
  });

  it("says that a node matched nothing, naming the recorded ones, with exit code 5", async () => {
    const { code, stdout, stderr } = await runInspect([executionId, "--node", "cpy", "--project", dir]);
    expect(code).toBe(EXIT.notFound);
    expect(stdout).toBe("");
    expect(stderr).toBe(
      `conductor: execution "${executionId}" recorded nothing of a node "cpy"; its nodes: copy; did you mean "copy"?\n`,
    );
    const json = await runInspect([executionId, "--node", "zzz", "--json", "--project", dir]);
    expect(json.code).toBe(EXIT.notFound);
    expect(JSON.parse(json.stdout)).toEqual({
      error: {
        code: "not_found",
        message: `execution "${executionId}" recorded nothing of a node "zzz"; its nodes: copy`,
      },
    });
  });

  it("says that an execution id is unknown, with exit code 5", async () => {
    const { code, stderr } = await runInspect(["no-such-id", "--project", dir]);
    expect(code).toBe(EXIT.notFound);
    expect(stderr).toBe(
      'conductor: the project\'s journal has no execution "no-such-id"; `conductor history` lists the recorded ones\n',
    );
  });
});
