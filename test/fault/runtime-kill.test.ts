/**
 * Runtimes killed under load: while 32 executions relay a value through Python and Node sidecar nodes, each
 * runtime is SIGKILLed twice mid-node. The invariants: every execution ends (completed, since the nodes are
 * idempotent and retried), none is lost from the journal, and no node runs again once it has completed (each run is
 * recorded in a file with its attempt number, which never exceeds the attempt that completed the node).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Conductor, createConductor, type ExecutionEvent, type ExecutionResult } from "@conductor/host";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Run, readRuns, runsAfterCompletion, waitFor, writeFaultProject } from "./fault-project.js";

const LENGTH = 8;
const WAVES = 4;
const PER_WAVE = 8;

describe("runtimes killed mid-node under load", () => {
  let dir: string;
  let conductor: Conductor;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "conductor-runtime-kill-"));
    await writeFaultProject(dir, { length: LENGTH, ms: 200 });
    conductor = await createConductor({ projectDir: dir, journal: join(dir, "journal.db") });
  });

  afterAll(async () => {
    await conductor?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("ends every execution, loses none, and re-runs no completed node", async () => {
    const prepared = await conductor.prepare(join(dir, "relay.blueprint.yaml"));
    const events = new Map<string, ExecutionEvent[]>();
    const results: Promise<ExecutionResult>[] = [];
    const finished = new Set<string>();
    const killed = new Set<number>();
    // Python runs the even nodes, the Node sidecar the odd ones.
    const runtimeOf = (run: Run) => (Number(run.nodeId.slice(1)) % 2 === 0 ? "python" : "node");

    for (let wave = 0; wave < WAVES; wave++) {
      for (let i = 0; i < PER_WAVE; i++) {
        const handle = prepared.start(
          { start: 0 },
          {
            onEvent: (event) =>
              events.set(event.executionId, [...(events.get(event.executionId) ?? []), event]),
          },
        );
        results.push(
          handle.result.then((result) => {
            finished.add(result.executionId);
            return result;
          }),
        );
      }
      // Kill the runtime whose turn it is, in the middle of a node of an execution still running.
      const target = wave % 2 === 0 ? "python" : "node";
      let victim: Run | undefined;
      await waitFor(`a ${target} node running in a live process`, async () => {
        victim = (await readRuns(dir))
          .reverse()
          .find((run) => runtimeOf(run) === target && !killed.has(run.pid) && !finished.has(run.executionId));
        return victim !== undefined;
      });
      killed.add(victim!.pid);
      process.kill(victim!.pid, "SIGKILL");
    }

    const ended = await Promise.all(results);
    expect(ended.map((result) => result.status)).toEqual(Array(WAVES * PER_WAVE).fill("completed"));
    expect(ended.map((result) => result.outputs.value)).toEqual(Array(WAVES * PER_WAVE).fill(LENGTH));

    // None lost: the journal has every execution, completed.
    const journaled = new Map(
      conductor.executions.list({ limit: 1000 }).map((summary) => [summary.executionId, summary]),
    );
    for (const result of ended) expect(journaled.get(result.executionId)?.status).toBe("completed");

    // The kills hit running nodes: each took at least one node down as a lost runtime, which was retried.
    const lost = [...events.values()]
      .flat()
      .filter((event) => event.type === "node.failed" && event.failure.type === "runtime.lost");
    expect(lost.length).toBeGreaterThanOrEqual(WAVES);
    expect(new Set(lost.map((event) => Number((event as { nodeId: string }).nodeId.slice(1)) % 2)).size).toBe(
      2,
    );

    // No completed node ran again, by the events and by the runs the nodes recorded themselves.
    for (const [executionId, list] of events) {
      const completed = new Set<string>();
      for (const event of list) {
        if (!("nodeId" in event)) continue;
        if (event.type === "node.started")
          expect(completed.has(event.nodeId), `${executionId} ${event.nodeId}`).toBe(false);
        if (event.type === "node.completed") completed.add(event.nodeId);
      }
    }
    const byId = new Map(ended.map((result) => [result.executionId, result]));
    const runs = await readRuns(dir);
    expect(runs.length).toBeGreaterThanOrEqual(WAVES * PER_WAVE * LENGTH);
    expect(
      runsAfterCompletion(runs, (executionId, nodeId) => byId.get(executionId)?.nodes[nodeId]?.attempt),
    ).toEqual([]);
  });
});
