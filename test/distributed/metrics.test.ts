/**
 * The series of distributed execution on a host's metrics, against a real redis-server: jobs per Redis queue and
 * state, live workers per runtime, invocations in flight per worker (docs/telemetry.md).
 */
import { join } from "node:path";
import { type ConductorMetrics, createConductorMetrics, type ExecutionHandle } from "@conductor/host";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DistSetup, startDistSetup, waitFor } from "./dist-project.js";

/** The samples of one series in Prometheus's text, as `{labels} value` lines. */
function samples(text: string, name: string): string[] {
  return text
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`))
    .map((line) => line.slice(name.length));
}

describe("metrics of distributed execution", () => {
  let setup: DistSetup | undefined;
  let metrics: ConductorMetrics;
  const handles: ExecutionHandle[] = [];

  beforeAll(async () => {
    metrics = createConductorMetrics();
    setup = await startDistSetup({
      prefix: "conductor-dist-metrics-",
      project: { length: 1, ms: 1, slowMs: 60_000 },
      // One invocation at a time: a second one waits in the queue.
      worker: { id: "w1", concurrency: 1, lockDurationMs: 5_000 },
      metrics,
    });
  });

  afterAll(async () => {
    for (const handle of handles) handle.cancel("the test ends");
    await Promise.all(handles.map((handle) => handle.result.catch(() => undefined)));
    await setup?.close();
  });

  it("shows the queue's waiting and active jobs, the live worker and its invocation in flight", async () => {
    const { conductor, dir } = setup!;
    const slow = join(dir, "host", "slow.blueprint.yaml");
    handles.push(await conductor.start(slow, {}), await conductor.start(slow, {}));
    let text = "";
    await waitFor(
      "one job active and one waiting, and the worker's heartbeat saying it runs one",
      async () => {
        text = await metrics.registry.metrics();
        return (
          samples(text, "conductor_redis_queue_jobs").includes('{queue="run.node",state="waiting"} 1') &&
          samples(text, "conductor_redis_queue_jobs").includes('{queue="run.node",state="active"} 1') &&
          samples(text, "conductor_worker_invocations_in_flight").includes('{worker="w1"} 1')
        );
      },
    );
    expect(samples(text, "conductor_redis_queue_jobs")).toEqual([
      '{queue="run.node",state="waiting"} 1',
      '{queue="run.node",state="active"} 1',
      '{queue="run.node",state="delayed"} 0',
    ]);
    expect(samples(text, "conductor_workers_connected")).toEqual(['{runtime="node"} 1']);
    expect(samples(text, "conductor_worker_invocations_in_flight")).toEqual(['{worker="w1"} 1']);

    // Cancelled: the waiting job leaves the queue, the running one ends on its worker.
    for (const handle of handles) handle.cancel("the test has seen the queue");
    for (const handle of handles) expect((await handle.result).status).toBe("cancelled");
    await waitFor("the queue to be empty and the worker idle", async () => {
      text = await metrics.registry.metrics();
      return (
        samples(text, "conductor_redis_queue_jobs").includes('{queue="run.node",state="waiting"} 0') &&
        samples(text, "conductor_redis_queue_jobs").includes('{queue="run.node",state="active"} 0') &&
        samples(text, "conductor_worker_invocations_in_flight").includes('{worker="w1"} 0')
      );
    });
  });

  it("leaves the worker out once it stopped", async () => {
    await setup!.worker.close();
    const text = await metrics.registry.metrics();
    expect(samples(text, "conductor_workers_connected")).toEqual([]);
    expect(samples(text, "conductor_worker_invocations_in_flight")).toEqual([]);
    // The scheduler's own queue is still counted.
    expect(samples(text, "conductor_redis_queue_jobs")).toContain('{queue="run.node",state="waiting"} 0');
  });
});
