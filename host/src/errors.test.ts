import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as fixtureNodes from "../../test/fixtures/nodes/math-nodes.js";
import { toConnectError } from "./api/api-errors.js";
import type { BlueprintDocument } from "./blueprint/blueprint-schema.js";
import { EXIT, exitCodeOf } from "./cli/command.js";
import { createConductor } from "./conductor.js";
import { ConductorError } from "./errors.js";

const chain: BlueprintDocument = {
  conductor: "blueprint/v1",
  id: "chain",
  inputs: { x: {} },
  outputs: { x: "b.x" },
  nodes: {
    a: { type: "test.add-one", inputs: { x: "inputs.x" } },
    b: { type: "test.add-one", inputs: { x: "a.x" } },
  },
};

/** The error a promise rejects with (or a failure of the test when it does not reject). */
async function rejection(promise: Promise<unknown>): Promise<ConductorError> {
  const error = await promise.then(
    () => new Error("expected a rejection, but the promise resolved"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConductorError);
  return error as ConductorError;
}

describe("ConductorError codes", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "error-codes-"));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("name a user's mistake for what it is, never internal, with its exit code and API code", async () => {
    const conductor = await createConductor({
      nodes: Object.values(fixtureNodes),
      journal: join(dir, ".conductor", "journal.db"),
      project: { dir, blueprints: [], nodes: [], runtimes: {} },
    });
    try {
      const result = await conductor.run(chain, { x: 1 });
      expect(result.status).toBe("completed");

      const finished = await rejection(conductor.resume(result.executionId));
      expect(finished.code).toBe("execution_finished");
      expect(finished.message).toBe(
        `execution "${result.executionId}" already completed; nothing to resume (use \`conductor rerun\` to run it again)`,
      );
      const noNode = await rejection(conductor.rerun(result.executionId, "c"));
      expect(noNode.code).toBe("node_not_found");
      expect(noNode.message).toMatch(/^blueprint "chain" of execution ".*" has no node "c"/);
      const unknown = await rejection(conductor.resume("nope"));
      expect(unknown.code).toBe("execution_not_found");

      expect([finished, noNode, unknown].map(exitCodeOf)).toEqual([
        EXIT.conflict,
        EXIT.notFound,
        EXIT.notFound,
      ]);
      expect([finished, noNode, unknown].map((error) => toConnectError(error).code)).toEqual([
        9, // FAILED_PRECONDITION
        5, // NOT_FOUND
        5,
      ]);
    } finally {
      await conductor.close();
    }
  });

  it("says a journal is needed to resume, a broken project module is the project's, and a journal that cannot be opened is a journal failure", async () => {
    const inMemory = await createConductor({
      nodes: Object.values(fixtureNodes),
      project: { dir, blueprints: [], nodes: [], runtimes: {} },
    });
    try {
      const error = await rejection(inMemory.resume("any"));
      expect(error.code).toBe("journal_required");
      expect(exitCodeOf(error)).toBe(EXIT.usage);
    } finally {
      await inMemory.close();
    }

    // A project node module that does not load is the project's problem.
    const broken = await rejection(
      createConductor({
        nodes: Object.values(fixtureNodes),
        project: { dir, blueprints: [], nodes: ["./missing-nodes.mjs"], runtimes: {} },
      }),
    );
    expect(broken.code).toBe("project_invalid");
    expect(broken.message).toMatch(
      /^cannot load node module "\.\/missing-nodes\.mjs": .*; fix the module, or remove it from "nodes" in the project file$/,
    );
    expect(exitCodeOf(broken)).toBe(EXIT.invalid);

    // A directory where the journal's file should be.
    const blocked = join(dir, "blocked");
    await mkdir(join(blocked, "journal.db"), { recursive: true });
    await writeFile(join(blocked, "note"), "");
    const error = await rejection(
      createConductor({
        nodes: Object.values(fixtureNodes),
        journal: join(blocked, "journal.db"),
        project: { dir, blueprints: [], nodes: [], runtimes: {} },
      }),
    );
    expect(error.code).toBe("journal_failed");
    expect(error.message).toMatch(
      /^cannot open the journal .*journal\.db: .*; check that its directory is writable/,
    );
    expect(exitCodeOf(error)).toBe(EXIT.io);
  });
});
