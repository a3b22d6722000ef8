/**
 * Distributed execution against a real redis-server: a worker (in this process, with its own project directory)
 * serves the Node sidecar; a host whose "node" runtime is remote runs blueprints through Redis. Outputs, live
 * events, the worker named in each node's log, cancellation across the queue, and the workers registry.
 */
import { join } from "node:path";
import {
  type Conductor,
  type ConductorWorker,
  type ExecutionEvent,
  listRedisWorkers,
  startWorker,
} from "@conductor/host";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DistSetup, readRuns, startDistSetup, waitFor } from "./dist-project.js";
import type { TestRedis } from "./redis-server.js";

describe("remote dispatch through Redis", () => {
  let dir: string;
  let redis: TestRedis;
  let worker: ConductorWorker;
  let conductor: Conductor;
  let setup: DistSetup | undefined;
  const runs = () => join(dir, "runs.log");

  beforeAll(async () => {
    setup = await startDistSetup({
      prefix: "conductor-dist-",
      project: { length: 4, ms: 5, slowMs: 60_000 },
      worker: { id: "w1", lockDurationMs: 5_000 },
    });
    ({ dir, redis, worker, conductor } = setup);
  });

  afterAll(async () => {
    await setup?.close();
  });

  it("runs remote nodes on the worker and gives their outputs and live events", async () => {
    const events: ExecutionEvent[] = [];
    const result = await conductor.run(
      join(dir, "host", "relay.blueprint.yaml"),
      { start: 10 },
      {
        onEvent: (event) => events.push(event),
      },
    );
    expect(result.status).toBe("completed");
    expect(result.outputs.value).toBe(14);
    // Each node ran once, in the worker's runtime process (not a child of this host's registry).
    const ran = (await readRuns(runs())).filter((run) => run.executionId === result.executionId);
    expect(ran.map((run) => run.nodeId)).toEqual(["n0", "n1", "n2", "n3"]);
    expect(new Set(ran.map((run) => run.pid)).size).toBe(1);
    expect(ran[0]!.pid).not.toBe(process.pid);
    // The node's own log line and the worker that ran it are in its record.
    const logs = events.filter((event) => event.type === "node.log" && event.nodeId === "n2");
    expect(logs.map((event) => (event as { message: string }).message)).toEqual([
      "runs on worker w1",
      "adding one to 12",
    ]);
    const order = events
      .filter((event) => "nodeId" in event && event.nodeId === "n2")
      .map((event) => event.type)
      .filter((type) => type !== "node.log");
    expect(order).toEqual(["node.queued", "node.started", "node.completed"]);
  });

  it("cancels a node running on a worker", async () => {
    const handle = await conductor.start(join(dir, "host", "slow.blueprint.yaml"));
    await waitFor("the slow node to start on the worker", async () =>
      (await readRuns(runs())).some((run) => run.executionId === handle.executionId),
    );
    handle.cancel("enough");
    const result = await handle.result;
    expect(result.status).toBe("cancelled");
    await waitFor("the worker to end the cancelled job", () => worker.info().inFlight === 0);
  });

  it("lists the worker with its runtimes and heartbeat", async () => {
    // The record is renewed at each heartbeat: it shows the jobs done (and none in flight) once one has passed.
    await waitFor("a heartbeat counting the jobs done", async () =>
      (await listRedisWorkers(redis.url)).some((entry) => entry.done >= 2 && entry.inFlight === 0),
    );
    const listed = await listRedisWorkers(redis.url);
    expect(
      listed.map((entry) => [entry.id, entry.alive, entry.runtimes, entry.state, entry.inFlight]),
    ).toEqual([["w1", true, ["node"], "ok", 0]]);
  });

  it("keeps a node whose runtime no live worker serves waiting, saying why, until a worker comes", async () => {
    await worker.close();
    const events: ExecutionEvent[] = [];
    const handle = await conductor.start(
      join(dir, "host", "relay.blueprint.yaml"),
      { start: 0 },
      { onEvent: (event) => events.push(event) },
    );
    await waitFor("the node to say why it waits", () =>
      events.some(
        (event) =>
          event.type === "node.log" &&
          event.nodeId === "n0" &&
          event.message.startsWith('waiting for a worker: no live worker serves runtime "node"'),
      ),
    );
    expect(events.some((event) => event.type === "node.started")).toBe(false);
    worker = await startWorker({ projectDir: join(dir, "worker"), redis: redis.url, id: "w2" });
    const result = await handle.result;
    expect(result.status).toBe("completed");
    expect(result.outputs.value).toBe(4);
  });

  it("sends a node with runsOn to a worker having those labels, and says why it waits while none has", async () => {
    const blueprint = {
      conductor: "blueprint/v1" as const,
      id: "labelled",
      outputs: { value: "train.value" },
      nodes: {
        train: {
          type: "dist.record",
          runsOn: ["gpu"],
          config: { file: runs(), ms: 1 },
          inputs: { value: { value: 41 } },
        },
      },
    };
    const events: ExecutionEvent[] = [];
    const handle = await conductor.start(blueprint, {}, { onEvent: (event) => events.push(event) });
    // w2 serves the runtime but has no label: the node waits, and says for which labels.
    await waitFor("the node to say it waits for a gpu worker", () =>
      events.some(
        (event) =>
          event.type === "node.log" &&
          event.message ===
            'waiting for a worker: no live worker serves runtime "node" with labels gpu; the node runs when one connects',
      ),
    );
    expect(events.some((event) => event.type === "node.started")).toBe(false);
    const gpu = await startWorker({
      projectDir: join(dir, "worker"),
      redis: redis.url,
      id: "w3",
      labels: ["gpu"],
    });
    try {
      const result = await handle.result;
      expect(result.status).toBe("completed");
      expect(result.outputs.value).toBe(42);
      expect(
        events.some(
          (event) =>
            event.type === "node.log" && event.nodeId === "train" && event.message === "runs on worker w3",
        ),
      ).toBe(true);
    } finally {
      await gpu.close();
    }
  });
});
