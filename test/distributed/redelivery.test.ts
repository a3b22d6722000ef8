/**
 * A job moved to active whose delivery never reached a worker (Redis ran the command and was killed before it
 * answered, so the worker that asked never got the job): its lock expires, BullMQ's stalled check re-delivers it,
 * and since no worker claimed the start of its nodes it runs, even with a non-idempotent node, instead of failing
 * as a lost worker's job does. The lost answer is reproduced with a BullMQ worker of this test that takes the job
 * and then disappears without running it.
 */
import { join } from "node:path";
import type { Conductor } from "@conductor/host";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDELIVER_SOON, takeAndVanish } from "../fixtures/distributed-host.js";
import { type DistSetup, readRuns, startRedeliverySetup } from "./dist-project.js";

describe("a job re-delivered although no worker started it", () => {
  let dir: string;
  let setup: DistSetup | undefined;
  let conductor: Conductor;
  let blueprint: string;
  const runs = () => join(dir, "runs.log");

  beforeAll(async () => {
    // A first worker advertises the runtime's node types, then leaves: the job waits for the test's taker.
    ({ setup, blueprint } = await startRedeliverySetup({
      prefix: "conductor-dist-redelivery-",
      blueprint: { id: "once", type: "dist.once" },
    }));
    ({ dir, conductor } = setup);
  });

  afterAll(async () => {
    await setup?.close();
  });

  it("runs its non-idempotent node once, on the worker it is re-delivered to", async () => {
    const result = conductor.run(blueprint, { start: 5 });
    // The delivery whose answer is lost: the job is active, locked for 1 s, and nobody runs it.
    const taken = await takeAndVanish(setup!.redis.url, { claim: false });
    expect(taken.nodes).toEqual(["only"]);
    // A worker whose stalled check finds the job (its lock expired) and re-delivers it, and says so.
    const notices: string[] = [];
    await setup!.startWorker({
      id: "second",
      ...REDELIVER_SOON,
      onNotice: (message) => notices.push(message),
    });
    const ended = await result;
    expect(ended.failure?.message ?? ended.status).toBe("completed");
    expect(ended.outputs.value).toBe(6);
    const ran = (await readRuns(runs())).filter((run) => run.executionId === ended.executionId);
    expect(ran.map((run) => `${run.nodeId} ${run.kind}`)).toEqual(["only once"]);
    expect(notices.filter((notice) => notice.includes("stalled"))).toEqual([
      expect.stringMatching(
        /^job \S+~only~1 of queue run\.node stalled \(its worker stopped renewing its lock\)/,
      ),
    ]);
  });
});
