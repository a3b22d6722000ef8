import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Conductor, createConductor } from "../conductor.js";
import { findProject } from "../project/project-config.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));

/** A node module whose node gives `version`; with `gated`, it first waits for the test to open the gate. */
const versionNode = (version: string, gated: boolean) => `import { defineNode } from "@conductor/sdk";
import { z } from "zod";
export const node = defineNode({
  type: "dev.version",
  output: { version: z.string() },
  run: async () => {
    ${gated ? "await globalThis.reloadTestGate;" : ""}
    return { version: ${JSON.stringify(version)} };
  },
});
`;

const blueprint = {
  conductor: "blueprint/v1" as const,
  id: "versions",
  outputs: { version: "v.version" },
  nodes: { v: { type: "dev.version" } },
};

describe("Conductor.reloadRuntimes()", () => {
  let dir: string;
  let conductor: Conductor | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "conductor-reload-"));
    await symlink(join(root, "node_modules"), join(dir, "node_modules"));
    await writeFile(join(dir, "package.json"), JSON.stringify({ type: "module" }));
    await writeFile(join(dir, "conductor.yaml"), "conductor: project/v1\nnodes: [./version.mjs]\n");
  });

  afterEach(async () => {
    await conductor?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("runs new executions on the new code while one in flight finishes on the code it started with", async () => {
    let open: () => void = () => {};
    (globalThis as { reloadTestGate?: Promise<void> }).reloadTestGate = new Promise((resolve) => {
      open = resolve;
    });
    await writeFile(join(dir, "version.mjs"), versionNode("first", true));
    conductor = await createConductor({ project: await findProject(dir) });
    const inFlight = await conductor.start(blueprint);

    await writeFile(join(dir, "version.mjs"), versionNode("second", false));
    await conductor.reloadRuntimes(["builtin"]);
    const finished: string[] = [];
    const after = await conductor.start(blueprint);
    const afterResult = after.result.then((result) => {
      finished.push("after the reload");
      return result;
    });
    const inFlightResult = inFlight.result.then((result) => {
      finished.push("in flight");
      return result;
    });
    expect((await afterResult).outputs).toEqual({ version: "second" });
    open();
    expect((await inFlightResult).outputs).toEqual({ version: "first" });
    expect(finished).toEqual(["after the reload", "in flight"]);
  });

  it("keeps the running code when the new code does not load, and says why", async () => {
    await writeFile(join(dir, "version.mjs"), versionNode("first", false));
    conductor = await createConductor({ project: await findProject(dir) });
    await writeFile(join(dir, "version.mjs"), "export const broken = ;\n");
    await expect(conductor.reloadRuntimes(["builtin"])).rejects.toThrow(
      /cannot load node module "\.\/version\.mjs".*fix the module/s,
    );
    expect((await conductor.run(blueprint)).outputs).toEqual({ version: "first" });
  });

  it("loads a wasm runtime's modules afresh, and keeps the loaded ones when a new module does not load", async () => {
    const wasmDir = join(root, "examples/wasm/nodes");
    await mkdir(join(dir, "wasm"));
    await copyFile(join(wasmDir, "increment.wasm"), join(dir, "wasm/module.wasm"));
    await copyFile(join(wasmDir, "increment.nodes.json"), join(dir, "wasm/module.nodes.json"));
    await writeFile(
      join(dir, "conductor.yaml"),
      "conductor: project/v1\nruntimes:\n  wasm: { kind: wasm, modules: [wasm/module.wasm] }\n",
    );
    conductor = await createConductor({ project: await findProject(dir) });
    const increment = {
      conductor: "blueprint/v1" as const,
      id: "increment",
      outputs: { x: "inc.x" },
      nodes: { inc: { type: "c.increment", inputs: { x: { value: 41 } } } },
    };
    expect((await conductor.run(increment)).outputs).toEqual({ x: 42 });
    const types = async () => (await conductor!.nodeTypes()).map((entry) => entry.nodeType.type);
    expect(await types()).toContain("c.increment");

    // The module is replaced by another one: its node types are served, the old ones are gone.
    await copyFile(join(wasmDir, "checksum.wasm"), join(dir, "wasm/module.wasm"));
    await copyFile(join(wasmDir, "checksum.nodes.json"), join(dir, "wasm/module.nodes.json"));
    await conductor.reloadRuntimes(["wasm"]);
    expect(await types()).toContain("cpp.crc32");
    expect(await types()).not.toContain("c.increment");

    // A module that does not compile: the reload fails and the loaded modules go on serving.
    await writeFile(join(dir, "wasm/module.wasm"), "not a wasm module");
    await expect(conductor.reloadRuntimes(["wasm"])).rejects.toThrow(/module\.wasm/);
    expect(await types()).toContain("cpp.crc32");
  });
});
