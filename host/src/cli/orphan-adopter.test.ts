import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import * as policyNodes from "../../../test/fixtures/nodes/policy-nodes.js";
import type { BlueprintDocument } from "../blueprint/blueprint-schema.js";
import { type Conductor, createConductor } from "../conductor.js";
import type { LeaseOptions } from "../store/execution-leases.js";
import { startOrphanAdopter } from "./orphan-adopter.js";

const nodes = Object.values(policyNodes).filter(
  (value) => typeof value === "object" && value !== null && "kind" in value,
) as never[];

const hanging: BlueprintDocument = {
  conductor: "blueprint/v1",
  id: "hanging",
  outputs: { value: "gate.value" },
  nodes: { gate: { type: "test.hang-once", inputs: { value: { value: 5 }, ms: { value: 600_000 } } } },
};

describe("startOrphanAdopter()", () => {
  let dir: string;
  const hosts: Conductor[] = [];
  const open = async (lease: LeaseOptions): Promise<Conductor> => {
    const host = await createConductor({
      nodes,
      journal: { path: join(dir, "journal.db"), lease },
      project: { dir, blueprints: [], nodes: [], runtimes: {} },
    });
    hosts.push(host);
    return host;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "adopter-"));
  });

  afterEach(async () => {
    for (const host of hosts.splice(0)) await host.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("resumes an orphan that turns up while it runs, once, and reports one it cannot resume once", async () => {
    // Whether, as the server sees it, the terminal's process lives.
    let terminalAlive = true;
    const server = await open({ label: "server", isAlive: () => terminalAlive });
    const adopted: string[] = [];
    const errors: string[] = [];
    const adopter = startOrphanAdopter({
      conductor: server,
      intervalMs: 20,
      onAdopted: (executionId) => adopted.push(executionId),
      onError: (executionId, error) => errors.push(`${executionId}: ${error.message}`),
    });
    try {
      expect(await adopter.first).toBe(0);
      // A terminal's host starts an execution and, once its node runs, dies (as the server sees it).
      const terminal = await open({ label: "terminal", renewEveryMs: 20 });
      let gateStarted!: () => void;
      const started = new Promise<void>((resolve) => {
        gateStarted = resolve;
      });
      const cutOff = await terminal.start(
        hanging,
        {},
        { onEvent: (event) => event.type === "node.started" && gateStarted() },
      );
      await started;
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(adopted).toEqual([]);
      terminalAlive = false;
      // An orphan whose blueprint was never recorded cannot be resumed: reported, not tried again.
      const db = new DatabaseSync(join(dir, "journal.db"));
      db.exec(
        "INSERT INTO executions (id, blueprint_id, status, started_at, inputs) VALUES ('broken', 'gone', 'running', 1, '{}')",
      );
      db.close();
      for (let i = 0; i < 500 && (adopted.length === 0 || errors.length === 0); i++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      expect(adopted).toEqual([cutOff.executionId]);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(
        /^broken: the journal .+ has no blueprint recorded for execution "broken"; the journal is damaged/,
      );
      expect((await cutOff.result).status).toBe("cancelled");
      for (let i = 0; i < 500 && server.executions.get(cutOff.executionId)?.status === "running"; i++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      expect(server.executions.get(cutOff.executionId)).toMatchObject({
        status: "completed",
        outputs: { value: 5 },
      });
      // Later looks neither adopt it again nor report the broken one again.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(adopted).toEqual([cutOff.executionId]);
      expect(errors).toHaveLength(1);
    } finally {
      adopter.stop();
    }
  });
});
