/**
 * `conductor validate` reports what would otherwise fail only at run time: a Python node module whose import fails
 * (a package missing from the venv, with where to declare it), a TypeScript node module that does not load, and a
 * misspelt config key (refused, naming the key it meant).
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

describe("conductor validate catches what the run would", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "validate-catches-"));
    await symlink(join(root, "node_modules"), join(dir, "node_modules"));
    await mkdir(join(dir, "python"));
    await mkdir(join(dir, "ts"));
    await writeFile(
      join(dir, "python", "uses_missing.py"),
      `import not_installed_anywhere
from conductor_runtime import node


@node("py.missing", output="v")
def missing(a: int) -> int:
    return a
`,
    );
    await writeFile(
      join(dir, "py.blueprint.yaml"),
      `conductor: blueprint/v1
id: py
inputs: { a: { schema: { type: integer }, default: 1 } }
nodes:
  a: { type: py.missing, inputs: { a: inputs.a } }
`,
    );
    await writeFile(
      join(dir, "typo.blueprint.yaml"),
      `conductor: blueprint/v1
id: typo
nodes:
  get: { type: core.http-request, config: { url: "http://127.0.0.1:9/", methd: POST } }
`,
    );
    await writeFile(
      join(dir, "ts", "broken.ts"),
      `import { nothing } from "./does-not-exist.ts";\nexport const x = nothing;\n`,
    );
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reports a Python module whose import fails, and where a missing package is declared", async () => {
    await writeFile(
      join(dir, "conductor.yaml"),
      `conductor: project/v1
blueprints: [.]
runtimes:
  python: { kind: python, venv: ${JSON.stringify(join(root, "runtimes/python/.venv"))}, path: [python], modules: [uses_missing] }
`,
    );
    const { code, stdout } = await conductor(["validate", "py.blueprint.yaml"], dir);
    expect(code).toBe(3);
    expect(stdout).toContain("No module named 'not_installed_anywhere'");
    expect(stdout).toContain(
      `add it to the runtime's requirements in conductor.yaml (e.g. requirements: ["not_installed_anywhere"])`,
    );
  });

  it("refuses a misspelt config key, naming the key it meant", async () => {
    await writeFile(join(dir, "conductor.yaml"), "conductor: project/v1\nblueprints: [.]\n");
    const { code, stdout } = await conductor(["validate", "typo.blueprint.yaml"], dir);
    expect(code).toBe(3);
    expect(stdout).toMatch(/nodes\.get\.config\.methd: .*unknown field.*did you mean "method"\?/);
  });

  it("reports a TypeScript node module that does not load", async () => {
    await writeFile(
      join(dir, "conductor.yaml"),
      "conductor: project/v1\nblueprints: [.]\nnodes: [./ts/broken.ts]\n",
    );
    const { code, stdout, stderr } = await conductor(["validate", "typo.blueprint.yaml"], dir);
    expect(code).toBe(3);
    expect(stdout + stderr).toMatch(/cannot load node module "\.\/ts\/broken\.ts".*does-not-exist/s);
  });
});
