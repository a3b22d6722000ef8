import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import * as policyNodes from "../../../test/fixtures/nodes/policy-nodes.js";
import type { BlueprintDocument } from "../blueprint/blueprint-schema.js";
import { type Conductor, createConductor, type ExecutionHandle } from "../conductor.js";
import type { LeaseOptions } from "./execution-leases.js";

const nodes = Object.values(policyNodes).filter(
  (value) => typeof value === "object" && value !== null && "kind" in value,
) as never[];

/** `first` records a side effect, then `gate` hangs on its first attempt until cancelled; then `last` records. */
function saga(file: string): BlueprintDocument {
  return {
    conductor: "blueprint/v1",
    id: "saga",
    outputs: { value: "last.value" },
    nodes: {
      first: { type: "test.record", config: { file, label: "first" }, inputs: { value: { value: 1 } } },
      gate: { type: "test.hang-once", inputs: { value: "first.value", ms: { value: 600_000 } } },
      last: { type: "test.record", config: { file, label: "last" }, inputs: { value: "gate.value" } },
    },
  };
}

describe("ExecutionLeases", () => {
  let dir: string;
  let effects: string;
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
  const recorded = async () => (await readFile(effects, "utf8").catch(() => "")).trim().split("\n");

  /** Starts the saga in `host` and waits until its gate node runs, recorded in the journal. */
  const startSaga = async (host: Conductor): Promise<ExecutionHandle> => {
    let gateStarted!: () => void;
    const started = new Promise<void>((resolve) => {
      gateStarted = resolve;
    });
    const handle = await host.start(
      saga(effects),
      {},
      {
        onEvent: (event) => {
          if (event.type === "node.started" && event.nodeId === "gate") gateStarted();
        },
      },
    );
    await started;
    // The journal writes what was recorded at the end of the event loop's turn.
    await new Promise((resolve) => setImmediate(resolve));
    return handle;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "leases-"));
    effects = join(dir, "effects.log");
  });

  afterEach(async () => {
    for (const host of hosts.splice(0)) await host.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses to resume an execution whose owner lives, naming the owner", async () => {
    const owner = await startSaga(await open({ label: "first host" }));
    const other = await open({ label: "second host" });
    const error = await other.resume(owner.executionId).catch((caught: unknown) => caught as Error);
    expect(error).toMatchObject({ code: "execution_running" });
    expect((error as Error).message).toMatch(
      new RegExp(
        `^execution "${owner.executionId}" is running in another process: first host \\(pid ${process.pid} on host ".+", started .+\\), whose lease runs until .+; wait for it to finish, or stop that process`,
      ),
    );
    expect(other.executions.list()[0]).toMatchObject({ executionId: owner.executionId, status: "running" });
    expect(other.executions.list()[0]!.orphaned).toBeUndefined();
    expect(other.executions.list({ orphaned: true })).toEqual([]);
  });

  it("lists an execution whose owner died as an orphan, and resumes it without re-running what completed", async () => {
    // Renewing often, the first host soon learns that its execution was taken over.
    const first = await open({ label: "first host", renewEveryMs: 20 });
    const cutOff = await startSaga(first);
    // Seen from the second host, the first one's process is gone.
    const second = await open({ label: "second host", isAlive: () => false });
    expect(second.executions.list({ orphaned: true })).toMatchObject([
      {
        executionId: cutOff.executionId,
        status: "running",
        orphaned: "dead",
        owner: { label: "first host", pid: process.pid },
      },
    ]);
    const [resumed] = await second.resumeUnfinished();
    const result = await resumed!.result;
    expect(result.status).toBe("completed");
    expect(result.nodes.gate!.attempt).toBe(2);
    expect(await recorded()).toEqual(["first first", "last last"]);
    expect(second.executions.list()[0]).toMatchObject({
      executionId: cutOff.executionId,
      status: "completed",
      resumes: 1,
      owner: { label: "second host" },
    });

    // The first host, whose execution was taken over, stops running it; the journal keeps what the second did.
    const abandoned = await cutOff.result;
    expect(abandoned.status).toBe("cancelled");
    expect(abandoned.failure?.message).toBe(
      `another process took execution "${cutOff.executionId}" over after this process's lease on it expired`,
    );
    expect(second.executions.get(cutOff.executionId)).toMatchObject({
      status: "completed",
      outputs: { value: 1 },
    });
    expect(await recorded()).toEqual(["first first", "last last"]);
  });

  it("treats an owner whose lease expired as gone, though its process lives", async () => {
    const owner = await startSaga(await open({ label: "frozen host", renewEveryMs: 20 }));
    // The second host's clock is past the lease (30 s by default): the owner stopped renewing it.
    const later = await open({ label: "second host", now: () => Date.now() + 31_000 });
    expect(later.executions.list()[0]).toMatchObject({
      executionId: owner.executionId,
      orphaned: "expired",
    });
    const handle = await later.resume(owner.executionId);
    expect((await handle.result).status).toBe("completed");
    expect((await owner.result).status).toBe("cancelled");
  });

  it("renews the leases of the executions it runs, while they run", async () => {
    const owner = await startSaga(await open({ label: "first host", ttlMs: 60_000, renewEveryMs: 10 }));
    const db = new DatabaseSync(join(dir, "journal.db"));
    try {
      const expiry = () =>
        (
          db.prepare("SELECT lease_expires_at FROM executions WHERE id = ?").get(owner.executionId) as {
            lease_expires_at: number;
          }
        ).lease_expires_at;
      const before = expiry();
      let after = before;
      for (let i = 0; i < 200 && after === before; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        after = expiry();
      }
      expect(after).toBeGreaterThan(before);
    } finally {
      db.close();
    }
  });

  it("refuses to resume a sub-blueprint's execution on its own", async () => {
    const host = await open({ label: "host" });
    const db = new DatabaseSync(join(dir, "journal.db"));
    db.exec(
      "INSERT INTO blueprints (key, source, document) VALUES ('k', 'inline', '{\"conductor\":\"blueprint/v1\",\"nodes\":{}}')",
    );
    db.exec(
      "INSERT INTO executions (id, blueprint_id, status, started_at, blueprint_key, project_dir, parent_id, parent_node, inputs) VALUES ('p/sub', 'child', 'running', 1, 'k', '', 'p', 'sub', '{}')",
    );
    db.close();
    await expect(host.resume("p/sub")).rejects.toThrow(
      'execution "p/sub" belongs to node "sub" of execution "p", and goes on only with it; resume that one instead',
    );
    expect(host.executions.list({ orphaned: true })).toMatchObject([
      { executionId: "p/sub", orphaned: "unknown" },
    ]);
  });
});
