/**
 * `conductor dev` as a user runs it: a project with a TypeScript node in the host and a Python node, the CLI
 * started with a blueprint, then files edited while it runs. Each edit must lead to a re-run of the last execution
 * from the node it touched, with the new code's result, and the upstream results reused.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const cli = join(root, "host", "bin", "conductor.js");

const greetNode = (greeting: string) => `import { defineNode } from "@conductor/sdk";
import { z } from "zod";
import { punctuation } from "./punctuation.ts";

export const greet = defineNode({
  type: "dev.greet",
  input: { name: z.string() },
  output: { text: z.string() },
  run: ({ name }) => ({ text: ${JSON.stringify(greeting)} + " " + name + punctuation }),
});
`;

const shoutNode = (transform: string) => `from conductor_runtime import node


@node("dev.shout", output="text")
def shout(text: str) -> str:
    return ${transform}
`;

const extraNode = `import { defineNode } from "@conductor/sdk";
import { z } from "zod";

export const extra = defineNode({
  type: "dev.extra",
  output: { value: z.string() },
  run: () => ({ value: "extra" }),
});
`;

const blueprint = (count: number) => `conductor: blueprint/v1
id: flow
inputs:
  name: { schema: { type: string } }
outputs:
  text: shout.text
  count: count.value
nodes:
  greet: { type: dev.greet, inputs: { name: inputs.name } }
  shout: { type: dev.shout, runtime: python, inputs: { text: greet.text } }
  count: { type: core.constant, config: { value: ${count} } }
`;

const projectFile = (nodes: string) => `conductor: project/v1
blueprints: [.]
nodes: ${nodes}
runtimes:
  python:
    kind: python
    venv: ${JSON.stringify(join(root, "runtimes/python/.venv"))}
    path: [python]
    modules: [dev_nodes]
`;

/** The CLI's stdout, line by line, with a way to wait for a line that matches. */
function lines(child: ChildProcess) {
  const seen: string[] = [];
  let buffer = "";
  const waiters: { pattern: RegExp; after: number; resolve: (line: string) => void }[] = [];
  const check = () => {
    for (const waiter of [...waiters]) {
      const line = seen.slice(waiter.after).find((candidate) => waiter.pattern.test(candidate));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  };
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split("\n");
    buffer = parts.pop()!;
    seen.push(...parts);
    check();
  });
  return {
    seen,
    /** The first line after the `after`-th that matches (bounded by the test's timeout). */
    next(pattern: RegExp, after = seen.length): Promise<string> {
      return new Promise((resolve) => {
        waiters.push({ pattern, after, resolve });
        check();
      });
    },
  };
}

describe("conductor dev", () => {
  let dir: string;
  let child: ChildProcess;
  let out: ReturnType<typeof lines>;
  let stderr = "";

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "conductor-dev-"));
    await symlink(join(root, "node_modules"), join(dir, "node_modules"));
    await mkdir(join(dir, "nodes"));
    await mkdir(join(dir, "python"));
    await writeFile(join(dir, "conductor.yaml"), projectFile("[./nodes/greet.ts]"));
    await writeFile(join(dir, "nodes", "greet.ts"), greetNode("hello"));
    await writeFile(join(dir, "nodes", "punctuation.ts"), `export const punctuation = "!";\n`);
    await writeFile(join(dir, "python", "dev_nodes.py"), shoutNode("text.upper()"));
    await writeFile(join(dir, "flow.blueprint.yaml"), blueprint(1));
    child = spawn(process.execPath, [cli, "dev", "flow.blueprint.yaml", "--port", "0", "-i", "name=ada"], {
      cwd: dir,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    out = lines(child);
    await out.next(/watching for changes/, 0);
  }, 120_000);

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGINT");
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  it("runs the blueprint given at start", () => {
    expect(out.seen.join("\n"), stderr).toMatch(/completed: \{"text":"HELLO ADA!","count":1\}/);
  });

  it("re-runs from the TypeScript node after an edit of it, with its new code", async () => {
    const after = out.seen.length;
    await writeFile(join(dir, "nodes", "greet.ts"), greetNode("hi"));
    const line = await out.next(/→ .* (completed|failed)/, after);
    expect(line).toContain('"text":"HI ADA!"');
    expect(out.seen.slice(after).join("\n")).toMatch(/reloaded runtime "builtin"/);
    expect(out.seen.slice(after).join("\n")).toMatch(/re-running flow from greet as /);
  });

  it("re-runs after an edit of a module a node imports", async () => {
    const after = out.seen.length;
    await writeFile(join(dir, "nodes", "punctuation.ts"), `export const punctuation = "?";\n`);
    const line = await out.next(/→ .* (completed|failed)/, after);
    expect(line).toContain('"text":"HI ADA?"');
  });

  it("restarts only the Python runtime after an edit of a Python node, and re-runs from that node", async () => {
    const after = out.seen.length;
    await writeFile(join(dir, "python", "dev_nodes.py"), shoutNode('text.lower() + "."'));
    const line = await out.next(/→ .* (completed|failed)/, after);
    expect(line).toContain('"text":"hi ada?."');
    const log = out.seen.slice(after).join("\n");
    expect(log).toMatch(/reloaded runtime "python"/);
    expect(log).not.toMatch(/runtime "builtin"/);
    expect(log).toMatch(/re-running flow from shout as /);
  });

  it("re-runs from the node a blueprint edit changed, reusing the others' results", async () => {
    const after = out.seen.length;
    await writeFile(join(dir, "flow.blueprint.yaml"), blueprint(2));
    const line = await out.next(/→ .* (completed|failed)/, after);
    expect(line).toContain('"count":2');
    expect(line).toContain('"text":"hi ada?."');
    expect(out.seen.slice(after).join("\n")).toMatch(/re-running flow from count as /);
  });

  it("reports an invalid blueprint edit and runs nothing", async () => {
    const after = out.seen.length;
    await writeFile(join(dir, "flow.blueprint.yaml"), blueprint(3).replace("dev.shout", "dev.shuot"));
    const line = await out.next(/has \d+ problems?|is valid/, after);
    expect(line).toMatch(/flow\.blueprint\.yaml has \d+ problems?/);
    const next = await out.next(/not re-run|→/, after);
    expect(next).toMatch(/not re-run: a blueprint that changed is invalid/);
    expect(out.seen.slice(after).join("\n")).toMatch(/did you mean "dev.shout"/);
  }, 30_000);

  it("records each re-run with its lineage", async () => {
    const history = await new Promise<string>((resolve) => {
      const list = spawn(process.execPath, [cli, "history", "--json"], { cwd: dir });
      let text = "";
      list.stdout.on("data", (chunk: Buffer) => {
        text += chunk.toString();
      });
      list.on("exit", () => resolve(text));
    });
    const executions = JSON.parse(history) as { lineage?: { rerunOf?: string; rerunFrom?: string } }[];
    const froms = executions.flatMap((execution) => execution.lineage?.rerunFrom ?? []).sort();
    expect(froms).toEqual(["count", "greet", "greet", "shout"]);
  });

  /** The node types the dev server's API lists now (at the address it printed last). */
  const servedNodeTypes = async (): Promise<string[]> => {
    const address = out.seen.findLast((line) => /API {2,}http|serving at http/.test(line))!;
    const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(address)![1]!;
    const token = (await readFile(join(dir, ".conductor", "api-token"), "utf8")).trim();
    const response = await fetch(`${url}/conductor.api.v1.ConductorService/ListNodeTypes`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: "{}",
    });
    const { nodeTypes } = (await response.json()) as { nodeTypes: { type: string }[] };
    return nodeTypes.map((nodeType) => nodeType.type);
  };

  it("opens the project afresh when conductor.yaml changes, keeping it when the new one does not load", async () => {
    await writeFile(join(dir, "nodes", "extra.ts"), extraNode);
    expect(await servedNodeTypes()).not.toContain("dev.extra");
    let after = out.seen.length;
    await writeFile(join(dir, "conductor.yaml"), projectFile("[./nodes/greet.ts, ./nodes/extra.ts]"));
    await out.next(/reloaded the project|kept the running project/, after);
    expect(out.seen.slice(after).join("\n"), stderr).toMatch(/reloaded the project/);
    expect(await servedNodeTypes()).toEqual(expect.arrayContaining(["dev.extra", "dev.greet", "dev.shout"]));

    after = out.seen.length;
    await writeFile(join(dir, "conductor.yaml"), projectFile("[./nodes/greet.ts, ./nodes/missing.ts]"));
    const kept = await out.next(/reloaded the project|kept the running project/, after);
    expect(kept).toMatch(/kept the running project: .*missing\.ts/);
    expect(await servedNodeTypes()).toContain("dev.extra");
  }, 90_000);
});
