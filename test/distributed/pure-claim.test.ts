/**
 * A job whose nodes are all deterministic (pure) runs while its worker claims its start, and its events leave the
 * worker only once the claim answered (docs/distributed.md, "Failure semantics"). Re-delivered jobs are made as in
 * redelivery.test.ts: a BullMQ worker of this test takes the job and disappears; its lock expires and a worker's
 * stalled check re-delivers it. Without a claim (the first delivery never reached a worker) the node runs and
 * completes; with the claim of an earlier delivery (one that started it, then was lost) it is not reported: its
 * events are dropped and it fails as runtime.lost, so a node never completes twice. (Whether the node had started
 * by the time its claim answered depends on timing here; host/src/distributed/run-job.test.ts checks that order
 * with a claim answered when the test says.)
 */
import { join } from "node:path";
import type { Conductor, ConductorWorker, ExecutionEvent } from "@conductor/host";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDELIVER_SOON, takeAndVanish } from "../fixtures/distributed-host.js";
import { type DistSetup, readRuns, startRedeliverySetup } from "./dist-project.js";

describe("a pure job's start claim", () => {
  let dir: string;
  let setup: DistSetup | undefined;
  let worker: ConductorWorker | undefined;
  let conductor: Conductor;
  const runs = () => join(dir, "runs.log");
  let blueprint: string;

  /** Takes the queued job as a worker whose delivery is then lost; `claim` also records that it started it. */
  const takeAndLose = async (claim: boolean) => {
    const taken = await takeAndVanish(setup!.redis.url, { claim });
    expect(taken.nodes).toEqual(["only"]);
  };

  beforeAll(async () => {
    // A first worker advertises the runtime's node types, then leaves: each job waits for the test's taker.
    ({ setup, blueprint } = await startRedeliverySetup({
      prefix: "conductor-dist-pure-",
      blueprint: { id: "pure", type: "dist.pure" },
    }));
    ({ dir, conductor } = setup);
  });

  afterAll(async () => {
    await setup?.close();
  });

  /**
   * The node's events, by type, with the text of its log lines; without the scheduler's own line saying that the
   * job waits for a worker (there is none while the test's taker has it, for about a second).
   */
  const nodeEvents = (events: ExecutionEvent[]) =>
    events
      .filter((event) => "nodeId" in event && event.nodeId === "only")
      .filter(
        (event) =>
          event.type !== "node.log" ||
          !(event as { message: string }).message.startsWith("waiting for a worker"),
      )
      .map((event) =>
        event.type === "node.log" ? `log: ${(event as { message: string }).message}` : event.type,
      );

  it("runs a job re-delivered although no worker started it, and gives its events once, in order", async () => {
    const events: ExecutionEvent[] = [];
    const result = conductor.run(blueprint, { start: 5 }, { onEvent: (event) => events.push(event) });
    await takeAndLose(false);
    worker = await setup!.startWorker({ id: "second", ...REDELIVER_SOON });
    const ended = await result;
    expect(ended.failure?.message ?? ended.status).toBe("completed");
    expect(ended.outputs.value).toBe(6);
    expect(nodeEvents(events)).toEqual([
      "node.queued",
      "log: runs on worker second",
      "node.started",
      "log: adding one to 5",
      "node.completed",
    ]);
    const ran = (await readRuns(runs())).filter((run) => run.executionId === ended.executionId);
    expect(ran.map((run) => `${run.nodeId} ${run.kind}`)).toEqual(["only pure"]);
  });

  it("drops the events of a job an earlier delivery claimed, and fails it as runtime.lost", async () => {
    await worker?.close();
    worker = undefined;
    const events: ExecutionEvent[] = [];
    const result = conductor.run(blueprint, { start: 7 }, { onEvent: (event) => events.push(event) });
    await takeAndLose(true);
    worker = await setup!.startWorker({ id: "third", ...REDELIVER_SOON });
    const ended = await result;
    expect(ended.status).toBe("failed");
    expect(ended.failure?.nodeId).toBe("only");
    expect(ended.failure?.type).toBe("runtime.lost");
    expect(ended.failure?.message).toContain(
      'the worker running node "only" was lost (its job stalled); the node is not idempotent',
    );
    expect(ended.outputs.value).toBeUndefined();
    // Nothing of the run on "third" reached the scheduler: not its line, nor the node's log, start or end.
    expect(nodeEvents(events)).toEqual(["node.queued", "node.failed"]);
    // It ran at most once, on "third" (its claim may have answered before the runtime started it).
    const ran = (await readRuns(runs())).filter((run) => run.executionId === ended.executionId);
    expect(ran.length).toBeLessThanOrEqual(1);
  });
});
