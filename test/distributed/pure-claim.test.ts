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
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Conductor,
  type ConductorWorker,
  createConductor,
  type ExecutionEvent,
  startWorker,
} from "@conductor/host";
import { Worker } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readRuns, waitFor, writeDistProject } from "./dist-project.js";
import { startRedis, type TestRedis } from "./redis-server.js";

describe("a pure job's start claim", () => {
  let dir: string;
  let redis: TestRedis;
  let worker: ConductorWorker | undefined;
  let conductor: Conductor;
  const runs = () => join(dir, "runs.log");
  const blueprint = () => join(dir, "host", "pure.blueprint.yaml");

  /** A worker that re-delivers stalled jobs soon: a lock of 1 s, checked every 0.5 s. */
  const start = (id: string) =>
    startWorker({
      projectDir: join(dir, "worker"),
      redis: redis.url,
      id,
      lockDurationMs: 1_000,
      stalledIntervalMs: 500,
    });

  /** Takes the queued job as a worker whose delivery is then lost; `claim` also records that it started it. */
  const takeAndVanish = async (claim: boolean) => {
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const taker = new Worker("run.node", undefined, {
      connection,
      prefix: "conductor",
      lockDuration: 1_000,
      autorun: false,
    });
    const token = randomUUID();
    let taken: { id?: string; data: { nodes: string[] } } | undefined;
    await waitFor("the job to be queued and taken", async () => {
      taken = await taker.getNextJob(token, { block: false });
      return taken !== undefined;
    });
    expect(taken?.data.nodes).toEqual(["only"]);
    // The field a worker claims in the job's hash before it lets a node's events go (redis-scripts.ts).
    if (claim) await connection.hset(`conductor:run.node:${taken?.id}`, "conductorStarted", `taker ${token}`);
    connection.disconnect();
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "conductor-dist-pure-"));
    redis = await startRedis();
    for (const name of ["worker", "host"])
      await writeDistProject(join(dir, name), { runsFile: runs(), length: 2, ms: 5 });
    await writeFile(
      blueprint(),
      `conductor: blueprint/v1
id: pure
inputs:
  start: { schema: { type: integer } }
outputs:
  value: only.value
nodes:
  only: { type: dist.pure, config: { file: ${JSON.stringify(runs())}, ms: 5 }, inputs: { value: inputs.start } }
`,
    );
    // A first worker advertises the runtime's node types, then leaves: each job waits for the test's taker.
    const first = await start("first");
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
    const result = conductor.run(blueprint(), { start: 5 }, { onEvent: (event) => events.push(event) });
    await takeAndVanish(false);
    worker = await start("second");
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
    const result = conductor.run(blueprint(), { start: 7 }, { onEvent: (event) => events.push(event) });
    await takeAndVanish(true);
    worker = await start("third");
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
