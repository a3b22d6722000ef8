import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { summarize } from "../stats.js";
import { againstTarget, type BenchResult, type Scenario } from "./index.js";

const repo = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));

const tsNode = (n: number) => `import { defineNode } from "@conductor/sdk";
import { z } from "zod";
export const greet = defineNode({
  type: "dev.greet",
  input: { name: z.string() },
  output: { text: z.string() },
  run: ({ name }) => ({ text: "hello " + name + " ${n}" }),
});
`;
const pyNode = (n: number) => `from conductor_runtime import node


@node("dev.shout", output="text")
def shout(text: str) -> str:
    return text.upper() + " ${n}"
`;
const blueprint = (n: number) => `conductor: blueprint/v1
id: flow
inputs: { name: { schema: { type: string }, default: ada } }
outputs: { text: shout.text, count: count.value }
nodes:
  greet: { type: dev.greet, inputs: { name: inputs.name } }
  shout: { type: dev.shout, runtime: python, inputs: { text: greet.text } }
  count: { type: core.constant, config: { value: ${n} } }
`;

/**
 * `conductor dev`'s edit-to-new-result latency, as a user sees it: the CLI runs on a project with a TypeScript node
 * in the host, a Python node and a blueprint; each sample writes one file and waits for the line of the re-run's
 * result on the CLI's stdout. Targets (issue: adoption): ≤ 1 s for a TypeScript or Python node edit, ≤ 300 ms for a
 * blueprint edit.
 */
export const devLoopScenario: Scenario = {
  id: "dev-loop",
  title: "`conductor dev`: from a saved edit to the re-run's result",
  async run(context) {
    const dir = await mkdtemp(join(tmpdir(), "bench-dev-"));
    let child: ChildProcess | undefined;
    try {
      await symlink(repo("node_modules"), join(dir, "node_modules"));
      await mkdir(join(dir, "python"));
      await writeFile(
        join(dir, "conductor.yaml"),
        `conductor: project/v1
blueprints: [.]
nodes: [./greet.ts]
runtimes:
  python: { kind: python, venv: ${JSON.stringify(repo("runtimes/python/.venv"))}, path: [python], modules: [dev_nodes] }
`,
      );
      await writeFile(join(dir, "greet.ts"), tsNode(0));
      await writeFile(join(dir, "python", "dev_nodes.py"), pyNode(0));
      await writeFile(join(dir, "flow.blueprint.yaml"), blueprint(0));
      child = spawn(
        process.execPath,
        [repo("host/bin/conductor.js"), "dev", "flow.blueprint.yaml", "--port", "0"],
        {
          cwd: dir,
          stdio: ["ignore", "pipe", "inherit"],
          env: { ...process.env, NO_COLOR: "1" },
        },
      );
      const output = lineReader(child);
      await output.next((line) => line.includes("watching for changes"));

      const edits: {
        id: string;
        what: string;
        target: number;
        edit: (n: number) => Promise<void>;
        expect: (n: number) => string;
      }[] = [
        {
          id: "dev-loop-ts",
          what: "edit of a TypeScript node → its re-run's result",
          target: 1_000,
          edit: (n) => writeFile(join(dir, "greet.ts"), tsNode(n)),
          expect: (n) => `hello ada ${n}`.toUpperCase(),
        },
        {
          id: "dev-loop-python",
          what: "edit of a Python node → its re-run's result",
          target: 1_000,
          edit: (n) => writeFile(join(dir, "python", "dev_nodes.py"), pyNode(n)),
          expect: (n) => ` ${n}"`,
        },
        {
          id: "dev-loop-blueprint",
          what: "edit of a blueprint → its re-run's result",
          target: 300,
          edit: (n) => writeFile(join(dir, "flow.blueprint.yaml"), blueprint(n)),
          expect: (n) => `"count":${n}`,
        },
      ];
      const results: BenchResult[] = [];
      let n = 1;
      for (const scenario of edits) {
        const samples: number[] = [];
        for (let i = 0; i < Math.min(context.iterations(1_000), 10); i++) {
          n += 1;
          const started = performance.now();
          await scenario.edit(n);
          const line = await output.next((candidate) => candidate.includes("→"));
          const elapsed = performance.now() - started;
          if (!line.includes("completed") || !line.includes(scenario.expect(n))) {
            throw new Error(
              `${scenario.id}: expected a completed re-run with ${scenario.expect(n)}, got ${line}`,
            );
          }
          samples.push(elapsed);
        }
        results.push(
          againstTarget(scenario.id, scenario.what, summarize(samples).median, "ms", scenario.target),
        );
      }
      // What restarting a Python runtime cannot go below: a new Python process importing conductor-runtime (and
      // grpc with it), measured now on this machine. The Python figure is reported beside it.
      const floorSamples: number[] = [];
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        execFileSync(repo("runtimes/python/.venv/bin/python"), ["-c", "import conductor_runtime"]);
        floorSamples.push(performance.now() - started);
      }
      const floor = { what: "python -c 'import conductor_runtime'", value: summarize(floorSamples).median };
      const python = results.find((result) => result.id === "dev-loop-python")!;
      Object.assign(python, { floor, ratio: python.value / floor.value });
      return results;
    } finally {
      if (child !== undefined && child.exitCode === null) {
        const exited = new Promise((resolve) => child!.once("exit", resolve));
        child.kill("SIGINT");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    }
  },
};

/** Lines of a child's stdout, awaited one match at a time; a child that exits first fails the wait. */
function lineReader(child: ChildProcess) {
  const lines: string[] = [];
  let buffer = "";
  let wake: (() => void) | undefined;
  let exited = false;
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split("\n");
    buffer = parts.pop()!;
    lines.push(...parts);
    wake?.();
  });
  child.once("exit", () => {
    exited = true;
    wake?.();
  });
  let read = 0;
  return {
    async next(match: (line: string) => boolean): Promise<string> {
      for (;;) {
        while (read < lines.length) {
          const line = lines[read++]!;
          if (match(line)) return line;
        }
        if (exited) throw new Error(`conductor dev exited; its output:\n${lines.join("\n")}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
  };
}
