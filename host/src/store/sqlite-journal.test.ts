import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as mathNodes from "../../../test/fixtures/nodes/math-nodes.js";
import * as policyNodes from "../../../test/fixtures/nodes/policy-nodes.js";
import type { BlueprintDocument } from "../blueprint/blueprint-schema.js";
import { type Conductor, createConductor } from "../conductor.js";

const nodes = [...Object.values(mathNodes), ...Object.values(policyNodes)].filter(
  (value) => typeof value === "object" && value !== null && "kind" in value,
) as never[];

const chain: BlueprintDocument = {
  conductor: "blueprint/v1",
  id: "chain",
  inputs: { x: { schema: { type: "integer" } } },
  outputs: { y: "c.y", bytes: "raw.value" },
  nodes: {
    a: { type: "test.add-one", inputs: { x: "inputs.x" } },
    b: { type: "test.square", cache: true, inputs: { x: "a.x" } },
    c: { type: "test.square", inputs: { x: "b.y" } },
    raw: { type: "test.sleep", config: { ms: 0 }, inputs: { value: { value: "text" } } },
  },
};

describe("the journal", () => {
  let dir: string;
  const open = (): Promise<Conductor> =>
    createConductor({
      nodes,
      journal: join(dir, ".conductor", "journal.db"),
      project: { dir, blueprints: [], nodes: [], runtimes: {} },
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "journal-"));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("records executions so another host process reads their history, nodes and results", async () => {
    const first = await open();
    const result = await first.run(chain, { x: 2 });
    await first.close();

    const second = await open();
    const [summary] = second.executions.list();
    expect(summary).toMatchObject({
      executionId: result.executionId,
      blueprintId: "chain",
      status: "completed",
    });
    const detail = second.executions.get(result.executionId)!;
    expect(detail.inputs).toEqual({ x: 2 });
    expect(detail.nodes.b).toMatchObject({
      status: "completed",
      inputs: { x: 3 },
      outputs: { y: 9 },
      attempt: 1,
    });
    expect(detail.outputs).toEqual({ y: 81, bytes: "text" });
    const events = [];
    second.executions.subscribe(result.executionId, (event) => events.push(event));
    expect(events.length).toBeGreaterThan(8);
    await second.close();
  });

  it("keeps cached results across host processes, and a new node version does not reuse them", async () => {
    const host = await open();
    const result = await host.run(chain, { x: 2 });
    expect(result.nodes.b!.status).toBe("cached");
    expect(result.outputs.y).toBe(81);
    await host.close();
  });

  it("re-runs from a node, reusing the recorded results upstream of it", async () => {
    const host = await open();
    const original = await host.run(chain, { x: 4 });
    const handle = await host.rerun(original.executionId, "c");
    const again = await handle.result;
    expect(again.executionId).not.toBe(original.executionId);
    expect(again.outputs).toEqual(original.outputs);
    expect(again.nodes.a!.status).toBe("cached");
    expect(again.nodes.b!.status).toBe("cached");
    expect(again.nodes.c).toMatchObject({ status: "completed", attempt: 1 });
    await expect(host.rerun(original.executionId, "d")).rejects.toThrow('blueprint "chain" of execution');
    await host.close();
  });

  it("refuses to resume an execution that already finished, saying what to do instead", async () => {
    const host = await open();
    const [latest] = host.executions.list({ limit: 1 });
    await expect(host.resume(latest!.executionId)).rejects.toThrow(
      `execution "${latest!.executionId}" already completed; nothing to resume (use rerun to run it again)`,
    );
    await host.close();
  });
});
