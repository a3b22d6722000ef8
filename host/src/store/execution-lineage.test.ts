import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import * as policyNodes from "../../../test/fixtures/nodes/policy-nodes.js";
import { type Conductor, createConductor } from "../conductor.js";
import type { LeaseOptions } from "./execution-leases.js";

const nodes = Object.values(policyNodes).filter(
  (value) => typeof value === "object" && value !== null && "kind" in value,
) as never[];

describe("the journal's lineage", () => {
  let dir: string;
  let effects: string;
  const hosts: Conductor[] = [];
  const open = async (lease: LeaseOptions = {}): Promise<Conductor> => {
    const host = await createConductor({
      nodes,
      journal: { path: join(dir, ".conductor", "journal.db"), lease },
      project: { dir, blueprints: ["."], nodes: [], runtimes: {} },
    });
    hosts.push(host);
    return host;
  };
  const recorded = async () => (await readFile(effects, "utf8").catch(() => "")).trim().split("\n");

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "lineage-"));
    effects = join(dir, "effects.log");
    // `inner` records a side effect, then hangs on its first attempt: a host can be cut off inside it.
    await writeFile(
      join(dir, "inner.yaml"),
      `conductor: blueprint/v1
inputs: { ms: { schema: { type: integer }, default: 0 }, seed: {} }
outputs: { value: gate.value }
nodes:
  before: { type: test.record, config: { file: ${JSON.stringify(effects)}, label: inner }, inputs: { value: inputs.seed } }
  gate: { type: test.hang-once, inputs: { value: before.value, ms: inputs.ms } }
`,
    );
    await writeFile(
      join(dir, "outer.yaml"),
      `conductor: blueprint/v1
inputs: { ms: { schema: { type: integer }, default: 0 } }
outputs: { value: after.value }
nodes:
  start: { type: test.record, config: { file: ${JSON.stringify(effects)}, label: outer }, inputs: { value: { value: 1 } } }
  sub: { type: blueprint.inner, inputs: { ms: inputs.ms, seed: start.value } }
  after: { type: test.record, config: { file: ${JSON.stringify(effects)}, label: outer }, inputs: { value: sub.value } }
`,
    );
  });

  afterEach(async () => {
    for (const host of hosts.splice(0)) await host.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("lists a re-run with the execution and node it re-runs from", async () => {
    const host = await open();
    const first = await host.run(join(dir, "outer.yaml"));
    const rerun = await (await host.rerun(first.executionId, "after")).result;
    expect(rerun.status).toBe("completed");
    const listed = host.executions.list({ blueprintId: "outer" });
    expect(listed.map((summary) => summary.executionId)).toEqual([rerun.executionId, first.executionId]);
    expect(listed[0]!.lineage).toEqual({ rerunOf: first.executionId, rerunFrom: "after" });
    expect(listed[1]!.lineage).toBeUndefined();
  });

  it("re-runs an execution whose large input the journal stored as a blob", async () => {
    const host = await open();
    const text = "x".repeat(2_000_000);
    const blueprint = {
      conductor: "blueprint/v1" as const,
      id: "echo",
      inputs: { text: { schema: { type: "string" } } },
      outputs: { attempt: "count.attempt" },
      nodes: { count: { type: "test.flaky", config: { failTimes: 0 }, inputs: { value: "inputs.text" } } },
    };
    const first = await host.run(blueprint, { text });
    const rerun = await (await host.rerun(first.executionId, "count")).result;
    expect(rerun.status).toBe("completed");
    expect(host.executions.get(rerun.executionId)?.inputs.text).toBeDefined();
  });

  it("records a sub-blueprint's execution with its parent and node, and resumes it only through its parent", async () => {
    const first = await open({ label: "first host", renewEveryMs: 20 });
    let innerGateStarted!: () => void;
    const gateStarted = new Promise<void>((resolve) => {
      innerGateStarted = resolve;
    });
    // The journal's watch tells when the child's gate runs (its events go to the journal, not to this listener).
    const outer = await first.start(join(dir, "outer.yaml"), { ms: 600_000 });
    const childId = `${outer.executionId}/sub`;
    for (let i = 0; i < 400; i++) {
      if (first.executions.get(childId)?.nodes.gate?.status === "running") {
        innerGateStarted();
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await gateStarted;
    expect(first.executions.list().find((summary) => summary.executionId === childId)?.lineage).toEqual({
      parentId: outer.executionId,
      parentNode: "sub",
    });

    // Seen from a second host, the first one died: only the parent is an orphan to adopt; its child goes with it.
    const second = await open({ label: "second host", isAlive: () => false });
    expect(
      second.executions
        .list({ orphaned: true })
        .map((summary) => summary.executionId)
        .sort(),
    ).toEqual([outer.executionId, childId].sort());
    const adopted = await second.resumeUnfinished();
    expect(adopted.map((handle) => handle.executionId)).toEqual([outer.executionId]);
    const result = await adopted[0]!.result;
    expect(result.status).toBe("completed");
    expect(result.outputs).toEqual({ value: 1 });

    // The child went on as itself: its first node did not run again, and no second child was started.
    expect(await recorded()).toEqual(["start outer", "before inner", "after outer"]);
    expect(second.executions.get(childId)).toMatchObject({ status: "completed", resumes: 1 });
    expect(second.executions.get(childId)!.nodes.gate!.attempt).toBe(2);
    expect(second.executions.list().map((summary) => summary.executionId)).not.toContain(`${childId}#2`);
    expect((await outer.result).status).toBe("cancelled");
  });
});
