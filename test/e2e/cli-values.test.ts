/**
 * Values that must not change on the way through the `conductor` command: integers beyond 2^53 from a YAML literal
 * and from `-i`, printed by `run --json` and `inspect --json` with every digit.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CommandResult, runConductor } from "../fixtures/conductor-command.js";

function conductor(args: string[], cwd: string): Promise<CommandResult> {
  return runConductor(args, { cwd });
}

const BLUEPRINT = `conductor: blueprint/v1
inputs:
  n: { schema: { type: integer } }
nodes:
  literal:
    type: core.passthrough
    inputs:
      value: { value: { id: 9007199254740993, list: [-9007199254740995, 1, 1.5] } }
  given:
    type: core.passthrough
    inputs: { value: inputs.n }
outputs:
  literal: literal.value
  given: given.value
`;

describe("conductor run --json, with integers beyond 2^53", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "cli-values-"));
    await writeFile(join(dir, "conductor.yaml"), "conductor: project/v1\nblueprints: [.]\n");
    await writeFile(join(dir, "big.blueprint.yaml"), BLUEPRINT);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("prints every digit of a YAML literal and of -i, and inspect --json prints them again", async () => {
    const run = await conductor(["run", "big.blueprint.yaml", "--json", "-i", "n=18446744073709551617"], dir);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('"id": 9007199254740993');
    expect(run.stdout).toContain("-9007199254740995,");
    expect(run.stdout).toContain('"given": 18446744073709551617');
    const executionId = (JSON.parse(run.stdout) as { executionId: string }).executionId;

    const inspect = await conductor(["inspect", executionId, "--json"], dir);
    expect(inspect.code).toBe(0);
    expect(inspect.stdout).toContain('"id": 9007199254740993');
    expect(inspect.stdout).toContain('"given": 18446744073709551617');
  });
});
