/**
 * A project whose package.json says `"type": "commonjs"` (what `npm init -y` writes) with node modules written as
 * ES modules, as TypeScript authors write them: the host and the Node sidecar load them by what they contain
 * (sdk-ts/src/runtime/module-format-hook.ts), and CommonJS modules stay CommonJS.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CommandResult, runConductor } from "../fixtures/conductor-command.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

function conductor(args: string[], cwd: string): Promise<CommandResult> {
  return runConductor(args, { cwd });
}

const esmTypeScript = (type: string, suffix: string) => `import { defineNode } from "@conductor/sdk";
import { z } from "zod";

const suffix: string = ${JSON.stringify(suffix)};

export const node = defineNode({
  type: "${type}",
  input: { text: z.string() },
  output: { text: z.string() },
  run: ({ text }) => ({ text: text + suffix }),
});
`;

describe("conductor run, in a project whose package.json says commonjs", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "commonjs-project-"));
    await writeFile(join(dir, "package.json"), JSON.stringify({ name: "flows", type: "commonjs" }));
    // The project's dependencies: this repository's (the sdk and zod).
    await symlink(join(root, "node_modules"), join(dir, "node_modules"));
    await mkdir(join(dir, "nodes"));
    await writeFile(join(dir, "nodes", "in-host.ts"), esmTypeScript("cjs.in-host", " ts"));
    await writeFile(join(dir, "nodes", "in-sidecar.ts"), esmTypeScript("cjs.in-sidecar", " sidecar"));
    await writeFile(
      join(dir, "nodes", "plain.js"),
      `import { defineNode } from "@conductor/sdk";
import { z } from "zod";
export const node = defineNode({
  type: "cjs.plain-esm",
  input: { text: z.string() },
  output: { text: z.string() },
  run: ({ text }) => ({ text: text + " js" }),
});
`,
    );
    await writeFile(
      join(dir, "nodes", "legacy.js"),
      `const { defineNode } = require("@conductor/sdk");
const { z } = require("zod");
module.exports = {
  node: defineNode({
    type: "cjs.legacy",
    input: { text: z.string() },
    output: { text: z.string() },
    run: ({ text }) => ({ text: text + " cjs" }),
  }),
};
`,
    );
    await writeFile(
      join(dir, "conductor.yaml"),
      `conductor: project/v1
nodes: [./nodes/in-host.ts, ./nodes/plain.js, ./nodes/legacy.js]
runtimes:
  sidecar: { kind: node, modules: [./nodes/in-sidecar.ts] }
`,
    );
    await writeFile(
      join(dir, "chain.blueprint.yaml"),
      `conductor: blueprint/v1
outputs:
  text: d.text
nodes:
  a: { type: cjs.in-host, inputs: { text: { value: "x" } } }
  b: { type: cjs.plain-esm, inputs: { text: a.text } }
  c: { type: cjs.legacy, inputs: { text: b.text } }
  d: { type: cjs.in-sidecar, inputs: { text: c.text } }
`,
    );
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("loads ES-module .ts and .js node modules in the host and the sidecar, and CommonJS ones as before", async () => {
    const run = await conductor(["run", "chain.blueprint.yaml", "--json", "--no-journal"], dir);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as {
      status: string;
      outputs: Record<string, unknown>;
      nodes: Record<string, { runtime: string }>;
    };
    expect(result.status).toBe("completed");
    expect(result.outputs).toEqual({ text: "x ts js cjs sidecar" });
    expect(result.nodes.d?.runtime).toBe("sidecar");
    expect(result.nodes.a?.runtime).not.toBe("sidecar");
  });
});
