/**
 * Distributed execution under faults, with real processes: one redis-server (AOF on), 3 `conductor worker`s and 2
 * schedulers (`conductor serve --redis … --remote node`), each in its own project directory so nothing is shared
 * but Redis (and the test's run log, where every node run is written as it starts).
 *
 * - workers SIGKILLed mid-node, again and again, under 200 executions: every execution ends, with the right output,
 *   and no job of a non-idempotent node is run twice (a re-delivered one fails as runtime.lost, and the node runs
 *   again only as a new attempt of its retry policy);
 * - Redis SIGKILLed and restarted mid-run: workers and schedulers reconnect by themselves, every execution ends
 *   correctly;
 * - a scheduler SIGKILLed mid-run and restarted: it resumes its executions from its journal and collects the
 *   results of the jobs that ran on while it was down, so no node runs a second time.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ApiExecution,
  getExecution,
  type Member,
  type Scheduler,
  startExecution,
  startScheduler,
  startWorkerProcess,
  stop,
} from "./cluster.js";
import { type Run, readRuns, waitFor, writeDistProject } from "./dist-project.js";
import { startRedis, type TestRedis } from "./redis-server.js";

const LENGTH = 4;

/** The status, and the failure when there is one (so a failed assertion says why). */
const outcome = (execution: ApiExecution) =>
  execution.failure?.message === undefined
    ? execution.status
    : `${execution.status}: ${execution.failure.message}`;

describe("distributed execution under faults", () => {
  let root: string;
  let redis: TestRedis;
  const workers: Member[] = [];
  const schedulers: Scheduler[] = [];
  const runsFile = () => join(root, "runs.log");

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "conductor-dist-faults-"));
    redis = await startRedis();
    for (const name of ["w1", "w2", "w3", "s1", "s2"])
      await writeDistProject(join(root, name), {
        runsFile: runsFile(),
        length: LENGTH,
        ms: 150,
        slowMs: 4_000,
      });
    for (const name of ["w1", "w2", "w3"])
      workers.push(await startWorkerProcess(name, join(root, name), redis.url));
    for (const name of ["s1", "s2"]) schedulers.push(await startScheduler(name, join(root, name), redis.url));
  });

  afterAll(async () => {
    for (const member of [...schedulers, ...workers]) await stop(member, "SIGKILL");
    await redis?.stop();
    await rm(root, { recursive: true, force: true });
  });

  /** Starts `count` relays, alternating schedulers; gives [scheduler, execution id, start] of each. */
  const startMany = async (count: number, offset: number) => {
    const started: { scheduler: Scheduler; executionId: string; start: number }[] = [];
    for (let i = 0; i < count; i++) {
      const scheduler = schedulers[i % 2]!;
      const start = offset + i;
      started.push({ scheduler, executionId: await startExecution(scheduler, "relay", { start }), start });
    }
    return started;
  };

  /** Waits until each execution ended; gives them from their scheduler's API. */
  const ended = async (started: Awaited<ReturnType<typeof startMany>>) => {
    const results = new Map<string, ApiExecution>();
    await waitFor(
      "every execution to end",
      async () => {
        for (const { scheduler, executionId } of started) {
          if (results.has(executionId)) continue;
          const execution = await getExecution(scheduler, executionId).catch(() => undefined);
          if (execution !== undefined && !/RUNNING|UNSPECIFIED/.test(execution.status))
            results.set(executionId, execution);
        }
        return results.size === started.length;
      },
      900,
      200,
    );
    return started.map(({ executionId, start }) => ({ start, ...results.get(executionId)! }));
  };

  /** Runs of non-idempotent nodes that ran twice as the same attempt (a re-delivered job that ran again). */
  const onceRunTwice = (runs: Run[]) => {
    const seen = new Set<string>();
    return runs.filter((run) => {
      if (run.kind !== "once") return false;
      const key = `${run.executionId} ${run.nodeId} ${run.attempt}`;
      if (seen.has(key)) return true;
      seen.add(key);
      return false;
    });
  };

  it("ends all of 200 executions while workers are SIGKILLed mid-node, running no non-idempotent job twice", async () => {
    const started = await startMany(200, 0);
    const ids = new Set(started.map((entry) => entry.executionId));
    // Three kills, each of a worker while nodes of this batch run; a killed worker comes back in the background
    // (as a supervisor would restart it), so the kills do not wait for the restarts.
    let kills = 0;
    const restarts: Promise<void>[] = [];
    for (let kill = 0; kill < 3; kill++) {
      const before = (await readRuns(runsFile())).length;
      const running = await waitFor(
        "nodes of this batch running",
        async () => {
          const runs = await readRuns(runsFile());
          return runs.length > before && runs.slice(before).some((run) => ids.has(run.executionId));
        },
        100,
      ).then(
        () => true,
        () => false,
      );
      if (!running) break;
      const index = kill % 3;
      const name = workers[index]!.name;
      await stop(workers[index]!, "SIGKILL");
      kills++;
      restarts.push(
        startWorkerProcess(name, join(root, name), redis.url).then((member) => {
          workers[index] = member;
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await Promise.all(restarts);
    expect(kills).toBeGreaterThanOrEqual(2);
    const results = await ended(started);
    // Each ends: completed with the right output, or failed because a worker was lost in a non-idempotent node,
    // which (as with a lost local runtime) is not retried.
    for (const result of results) {
      if (result.status === "EXECUTION_STATUS_COMPLETED")
        expect(result.outputs?.value).toBe(result.start + LENGTH);
      else {
        expect(result.status).toBe("EXECUTION_STATUS_FAILED");
        expect(result.failure?.type).toBe("runtime.lost");
        expect(result.failure?.message).toContain("is not idempotent");
      }
    }
    expect(results.filter((result) => result.status === "EXECUTION_STATUS_COMPLETED").length).toBeGreaterThan(
      150,
    );
    const runs = (await readRuns(runsFile())).filter((run) => ids.has(run.executionId));
    expect(onceRunTwice(runs)).toEqual([]);
  });

  it("ends every execution when Redis is SIGKILLed mid-run and restarted", async () => {
    // Jobs stay locked to their workers through an outage shorter than the lock (here 15 s): nothing is re-delivered.
    for (let index = 0; index < 3; index++) {
      const name = workers[index]!.name;
      // Gracefully: what runs finishes first.
      await stop(workers[index]!);
      workers[index] = await startWorkerProcess(name, join(root, name), redis.url, ["--lock-ms", "15000"]);
    }
    const started = await startMany(40, 1000);
    const ids = new Set(started.map((entry) => entry.executionId));
    await waitFor("nodes of this batch running", async () =>
      (await readRuns(runsFile())).some((run) => ids.has(run.executionId)),
    );
    await redis.kill();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await redis.restart();
    const results = await ended(started);
    // Each ends, completed with the right output: no job is re-delivered as if its worker were lost, including one
    // moved to active by a command whose answer Redis never sent (it is re-delivered by the stalled check, and runs
    // since no worker claimed its start).
    expect(results.map(outcome)).toEqual(Array(40).fill("EXECUTION_STATUS_COMPLETED"));
    expect(results.map((result) => result.outputs?.value)).toEqual(
      results.map((result) => result.start + LENGTH),
    );
    const runs = (await readRuns(runsFile())).filter((run) => ids.has(run.executionId));
    expect(onceRunTwice(runs)).toEqual([]);
    // The workers said they lost Redis and came back.
    for (const worker of workers) expect(worker.output()).toContain("cannot reach Redis");
  });

  it("resumes a SIGKILLed scheduler's executions and collects what finished meanwhile, running no node twice", async () => {
    const s1 = schedulers[0]!;
    const started: { scheduler: Scheduler; executionId: string; start: number }[] = [];
    for (let i = 0; i < 10; i++)
      started.push({
        scheduler: s1,
        executionId: await startExecution(s1, "relay", { start: 2000 + i }),
        start: 2000 + i,
      });
    const ids = new Set(started.map((entry) => entry.executionId));
    await waitFor(
      "nodes of this batch running",
      async () => (await readRuns(runsFile())).filter((run) => ids.has(run.executionId)).length >= 10,
    );
    await stop(s1, "SIGKILL");
    // Workers go on with the jobs; the scheduler comes back after some of them ended.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const restarted = await startScheduler("s1", join(root, "s1"), redis.url, s1.port);
    schedulers[0] = restarted;
    for (const entry of started) entry.scheduler = restarted;
    const results = await ended(started);
    expect(results.map(outcome)).toEqual(Array(10).fill("EXECUTION_STATUS_COMPLETED"));
    expect(results.map((result) => result.outputs?.value)).toEqual(
      results.map((result) => result.start + LENGTH),
    );
    // No node ran twice: every (execution, node) has one run.
    const runs = (await readRuns(runsFile())).filter((run) => ids.has(run.executionId));
    const keys = runs.map((run) => `${run.executionId} ${run.nodeId}`);
    expect(keys.filter((key, index) => keys.indexOf(key) !== index)).toEqual([]);
    expect(keys.length).toBe(10 * LENGTH);
  });
});
