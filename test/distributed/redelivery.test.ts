/**
 * A job moved to active whose delivery never reached a worker (Redis ran the command and was killed before it
 * answered, so the worker that asked never got the job): its lock expires, BullMQ's stalled check re-delivers it,
 * and since no worker claimed the start of its nodes it runs, even with a non-idempotent node, instead of failing
 * as a lost worker's job does. The lost answer is reproduced with a BullMQ worker of this test that takes the job
 * and then disappears without running it.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Conductor, type ConductorWorker, createConductor, startWorker } from "@conductor/host";
import { Worker } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readRuns, waitFor, writeDistProject } from "./dist-project.js";
import { startRedis, type TestRedis } from "./redis-server.js";

describe("a job re-delivered although no worker started it", () => {
  let dir: string;
  let redis: TestRedis;
  let worker: ConductorWorker | undefined;
  let conductor: Conductor;
  const runs = () => join(dir, "runs.log");

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "conductor-dist-redelivery-"));
    redis = await startRedis();
    for (const name of ["worker", "host"])
      await writeDistProject(join(dir, name), { runsFile: runs(), length: 2, ms: 5 });
    await writeFile(
      join(dir, "host", "once.blueprint.yaml"),
      `conductor: blueprint/v1
id: once
inputs:
  start: { schema: { type: integer } }
outputs:
  value: only.value
nodes:
  only: { type: dist.once, config: { file: ${JSON.stringify(runs())}, ms: 5 }, inputs: { value: inputs.start } }
`,
    );
    // A first worker advertises the runtime's node types, then leaves: the job waits for the test's taker.
    // (Its stalled check runs as often as the second's: BullMQ lets one check run per interval on a queue.)
    const first = await startWorker({
      projectDir: join(dir, "worker"),
      redis: redis.url,
      id: "first",
      lockDurationMs: 1_000,
      stalledIntervalMs: 500,
    });
    conductor = await createConductor({
      projectDir: join(dir, "host"),
      journal: join(dir, "host", "journal.db"),
      distributed: { redis: redis.url, remoteRuntimes: ["node"] },
    });
    await first.close();
  });

  afterAll(async () => {
    await conductor?.close();
    await worker?.close();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("runs its non-idempotent node once, on the worker it is re-delivered to", async () => {
    const result = conductor.run(join(dir, "host", "once.blueprint.yaml"), { start: 5 });
    // The delivery whose answer is lost: the job is active, locked for 1 s, and nobody runs it.
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const taker = new Worker("run.node", undefined, {
      connection,
      prefix: "conductor",
      lockDuration: 1_000,
      autorun: false,
    });
    let taken: { nodes: string[] } | undefined;
    await waitFor("the job to be queued and taken", async () => {
      const job = await taker.getNextJob(randomUUID(), { block: false });
      taken = job?.data as { nodes: string[] } | undefined;
      return taken !== undefined;
    });
    expect(taken?.nodes).toEqual(["only"]);
    connection.disconnect();
    // A worker whose stalled check finds the job (its lock expired) and re-delivers it, and says so.
    const notices: string[] = [];
    worker = await startWorker({
      projectDir: join(dir, "worker"),
      redis: redis.url,
      id: "second",
      lockDurationMs: 1_000,
      stalledIntervalMs: 500,
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
