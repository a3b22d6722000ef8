import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { describe, expect, it } from "vitest";
import nodes from "./nodes-command.js";

/** Runs `conductor nodes <args>` in-process; gives its exit code and what it wrote. */
async function runNodes(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const written = { stdout: "", stderr: "" };
  const stream = (name: "stdout" | "stderr") =>
    ({
      write(text: string) {
        written[name] += text;
        return true;
      },
    }) as NodeJS.WriteStream;
  const code = await nodes({ args, parseArgs, stdout: stream("stdout"), stderr: stream("stderr") });
  return { code, ...written };
}

describe("conductor nodes", () => {
  it("lists node types with their schemas and flags as plain JSON", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nodes-command-"));
    try {
      await writeFile(join(dir, "conductor.yaml"), "conductor: project/v1\nblueprints: [.]\n");
      const { code, stdout } = await runNodes(["--json", "--project", dir]);
      expect(code).toBe(0);
      const list = JSON.parse(stdout) as {
        type: string;
        runtime: string;
        flags: Record<string, unknown>;
        inputs: { name: string; schema: unknown }[];
      }[];
      const add = list.find((entry) => entry.type === "core.add")!;
      expect(add.runtime).toBe("builtin");
      expect(add.inputs.map((port) => port.name)).toEqual(["a", "b"]);
      expect(add.inputs[0]!.schema).toMatchObject({ type: "number" });
      // Only the flags themselves, as booleans: nothing of the wire message they came in.
      expect(add.flags.deterministic).toBe(true);
      for (const entry of list)
        for (const [key, value] of Object.entries(entry.flags)) {
          expect(key.startsWith("$")).toBe(false);
          expect(typeof value).toBe("boolean");
        }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("says that --runtime matched nothing, naming the project's runtimes, with exit code 5", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nodes-command-"));
    try {
      await writeFile(join(dir, "conductor.yaml"), "conductor: project/v1\n");
      const { code, stdout, stderr } = await runNodes(["--runtime", "builtn", "--project", dir]);
      expect(code).toBe(5);
      expect(stdout).toBe("");
      expect(stderr).toMatch(
        /^conductor: no node type matched --runtime "builtn": the project's runtimes are builtin(, [a-z]+)*; did you mean "builtin"\?\n$/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("lists the runtimes that run and names a runtime that does not start, ending with the runtime exit code", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nodes-command-"));
    try {
      await writeFile(
        join(dir, "conductor.yaml"),
        `conductor: project/v1\nblueprints: [.]\nruntimes:\n  gone:\n    kind: command\n    command: [${JSON.stringify(process.execPath)}, -e, "process.exit(4)"]\n`,
      );
      const { code, stdout, stderr } = await runNodes(["--project", dir]);
      expect(code).toBe(4);
      expect(stdout).toContain("core.add");
      expect(stderr).toMatch(
        /^conductor nodes: runtime "gone" is broken, so its node types are not listed: runtime "gone" exited with code 4 before printing its handshake line/m,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
