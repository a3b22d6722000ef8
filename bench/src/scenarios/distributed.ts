import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BlueprintDocument, createConductor, type Project, startWorker } from "@conductor/host";
import { Queue, QueueEvents, Worker } from "bullmq";
import { Redis } from "ioredis";
import { benchNodesModule } from "../bench-conductor.js";
import { allBenchNodes } from "../bench-nodes.js";
import { chain } from "../blueprints.js";
import { type Summary, summarize, timeSequential } from "../stats.js";
import { againstFloor, type BenchResult, type Scenario } from "./index.js";

/**
 * Distributed execution (docs/distributed.md) on a redis-server started here (AOF on): a remote one-node
 * dispatch (the host adds the job, a worker in this process runs it in its Node sidecar, the events come back)
 * against the floor of a bare BullMQ round trip on the same Redis (add a job, process it, see its completion),
 * with no Conductor, in alternating rounds.
 */
export const distributedScenario: Scenario = {
  id: "distributed",
  title: "remote dispatch through Redis (BullMQ) against a bare BullMQ round trip",
  async run(context) {
    const redis = await startRedis();
    const connections: Redis[] = [];
    const connect = () => {
      const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
      connection.on("error", () => {});
      connections.push(connection);
      return connection;
    };
    const iterations = { warmup: context.iterations(200), iterations: context.iterations(2_000) };
    try {
      // The floor: BullMQ alone.
      const queue = new Queue("bench-floor", { connection: connect() });
      const events = new QueueEvents("bench-floor", { connection: connect() });
      const worker = new Worker("bench-floor", async (job) => ({ x: (job.data as { x: number }).x + 1 }), {
        connection: connect(),
      });
      await events.waitUntilReady();
      await worker.waitUntilReady();
      const bareRoundTrip = async () => {
        const job = await queue.add("j", { x: 1 }, { removeOnComplete: { count: 1_000 } });
        await job.waitUntilFinished(events);
      };

      const project: Project = {
        dir: process.cwd(),
        blueprints: [],
        nodes: [],
        runtimes: { node: { kind: "node", modules: [benchNodesModule] } },
      } as Project;
      const remoteWorker = await startWorker({ project, redis: redis.url, id: "bench" });
      const conductor = await createConductor({
        nodes: allBenchNodes,
        store: false,
        project,
        distributed: { redis: redis.url, remoteRuntimes: ["node"] },
      });
      try {
        const single = await conductor.prepare(chain(1, "node"));
        const idempotent = await conductor.prepare(ONE_IDEMPOTENT_NODE);
        for (const prepared of [single, idempotent])
          if ((await prepared.run({ x: 1 })).outputs.x !== 2)
            throw new Error("remote node gave a wrong result");
        // In alternating rounds, because the load of a shared machine moves more than the difference measured.
        const [floor, dispatch, dispatchIdempotent] = await alternate(
          [bareRoundTrip, () => single.run({ x: 1 }), () => idempotent.run({ x: 1 })],
          iterations,
        );
        await worker.close();
        await events.close();
        await queue.close();
        const results: BenchResult[] = [
          againstFloor(
            "distributed-dispatch",
            "remote one-node dispatch through Redis to a worker's Node sidecar (1-node execution; the node is not idempotent, so the worker claims its start first)",
            dispatch!.median,
            { what: "bare BullMQ round trip (add, process, completion)", value: floor!.median },
            1.5,
          ),
          againstFloor(
            "distributed-dispatch-idempotent",
            "the same with an idempotent node (no start claim)",
            dispatchIdempotent!.median,
            { what: "bare BullMQ round trip (add, process, completion)", value: floor!.median },
            1.5,
          ),
        ];
        await remoteWorker.close();
        results.push(...(await throughput(context, redis.url, project, connect)));
        return results;
      } finally {
        await conductor.close();
        await remoteWorker.close();
      }
    } finally {
      for (const connection of connections) connection.disconnect();
      redis.stop();
    }
  },
};

/** Times each operation one after the other in 20 rounds; their summaries over all rounds, in order. */
async function alternate(
  operations: readonly (() => Promise<unknown>)[],
  iterations: { warmup: number; iterations: number },
): Promise<Summary[]> {
  const rounds = 20;
  const perRound = { iterations: Math.max(1, Math.ceil(iterations.iterations / rounds)) };
  for (const operation of operations)
    await timeSequential(operation, { warmup: iterations.warmup, iterations: 0 });
  const samples = operations.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++)
    for (const [index, operation] of operations.entries())
      samples[index]!.push(...(await timeSamples(operation, perRound)));
  return samples.map(summarize);
}

async function timeSamples(
  operation: () => Promise<unknown>,
  options: { iterations: number },
): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < options.iterations; i++) {
    const started = performance.now();
    await operation();
    samples.push((performance.now() - started) * 1000);
  }
  return samples;
}

/** Invocations each worker takes at once in the throughput runs, Conductor's and bare BullMQ's alike. */
const WORKER_CONCURRENCY = 8;

/**
 * Throughput of trivial remote nodes with 1, 2 and 4 workers (each with its own Node sidecar) against a bare BullMQ
 * producer and consumers at the same concurrency (jobs added in bulk, `workers × 8` processed at once), as time per
 * node; then 200 nodes sleeping 10 ms on 1 and on 2 workers taking one node at a time (the wall time should halve).
 */
async function throughput(
  context: Parameters<Scenario["run"]>[0],
  redisUrl: string,
  project: Project,
  connect: () => Redis,
): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const tasks = context.iterations(2_000);
  // Redis commands per task, for the capacity model: every command Redis processed while the tasks ran (idle
  // connections' polling included), over the number of tasks.
  const probe = connect();
  const commandsNow = async () =>
    Number(/total_commands_processed:(\d+)/.exec(await probe.info("stats"))?.[1] ?? Number.NaN);
  const commands = { floor: 0, conductor: 0 };
  for (const count of [1, 2, 4]) {
    // The floor: bare BullMQ, `count` consumers.
    const name = `bench-throughput-${count}`;
    const queue = new Queue(name, { connection: connect() });
    let done = 0;
    let allDone: () => void = () => {};
    const finished = new Promise<void>((resolve) => {
      allDone = resolve;
    });
    const consumers = Array.from({ length: count }, () =>
      new Worker(name, async (job) => ({ x: (job.data as { x: number }).x + 1 }), {
        connection: connect(),
        concurrency: WORKER_CONCURRENCY,
      }).on("completed", () => {
        if (++done === tasks) allDone();
      }),
    );
    await Promise.all(consumers.map((consumer) => consumer.waitUntilReady()));
    const floorCommands = await commandsNow();
    const floorStart = performance.now();
    await queue.addBulk(
      Array.from({ length: tasks }, (_, i) => ({
        name: "j",
        data: { x: i },
        opts: { removeOnComplete: true },
      })),
    );
    await finished;
    const floorPerTask = ((performance.now() - floorStart) * 1_000) / tasks;
    if (count === 1) commands.floor = ((await commandsNow()) - floorCommands - 1) / tasks;
    await Promise.all(consumers.map((consumer) => consumer.close()));
    await queue.close();

    // Conductor: `count` workers, one scheduler running `tasks` one-node executions at once.
    const { value: perTask } = await withWorkers(
      redisUrl,
      project,
      count,
      WORKER_CONCURRENCY,
      async (run) => {
        const before = await commandsNow();
        const start = performance.now();
        // In flight at once: twice what the workers take, so the queue never runs dry and no node waits in it
        // longer than its timeout (which counts from its dispatch).
        const outcomes = await inWindow(tasks, count * WORKER_CONCURRENCY * 2, (i) => run(ONE_NODE, i));
        if (outcomes.some((outcome, i) => outcome !== i + 1))
          throw new Error("a remote node gave a wrong result");
        const perTask = ((performance.now() - start) * 1_000) / tasks;
        if (count === 1) commands.conductor = ((await commandsNow()) - before - 1) / tasks;
        return perTask;
      },
    );
    results.push(
      againstFloor(
        `distributed-throughput-${count}w`,
        `trivial remote nodes with ${count} worker${count === 1 ? "" : "s"} (${WORKER_CONCURRENCY} at once each), time per node`,
        perTask,
        {
          what: `bare BullMQ producer/consumer, ${count} consumer${count === 1 ? "" : "s"} × ${WORKER_CONCURRENCY}`,
          value: floorPerTask,
        },
        // ≥ 70 % of the bare throughput is at most 1/0.7 ≈ 1.43 times its time per node.
        1.43,
      ),
    );
  }

  results.push({
    id: "distributed-redis-commands",
    what: `Redis commands per trivial remote node, ${commands.conductor.toFixed(1)}, against per bare BullMQ job, ${commands.floor.toFixed(1)} (1 worker; docs/distributed.md, capacity model)`,
    value: commands.conductor / commands.floor,
    unit: "×",
    target: "reported",
  });

  // 200 nodes of 10 ms, one at a time per worker: 1 worker against 2.
  const sleepers = context.smoke ? 20 : 200;
  const wall: number[] = [];
  for (const count of [1, 2]) {
    const { value } = await withWorkers(redisUrl, project, count, 1, async (run) => {
      const start = performance.now();
      await inWindow(sleepers, count * 4, (i) => run(SLEEP_10_MS, i));
      return (performance.now() - start) * 1_000;
    });
    wall.push(value);
  }
  results.push(
    againstFloor(
      "distributed-scaling-2w",
      `${sleepers} nodes of 10 ms on 2 workers taking one at a time (wall time)`,
      wall[1]!,
      { what: `the same on 1 worker`, value: wall[0]! },
      // Halving is 0.5; the scheduler's own work keeps it a little above.
      0.55,
    ),
  );
  return results;
}

/** Runs `task(0..total-1)` with at most `window` running at once; gives their results in order. */
async function inWindow<T>(total: number, window: number, task: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(total);
  let next = 0;
  const lane = async () => {
    while (next < total) {
      const index = next++;
      results[index] = await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, total) }, lane));
  return results;
}

const ONE_NODE = chain(1, "node");
const ONE_IDEMPOTENT_NODE: BlueprintDocument = {
  conductor: "blueprint/v1",
  inputs: { x: {} },
  outputs: { x: "n0.x" },
  nodes: { n0: { type: "bench.increment-idempotent", runtime: "node", inputs: { x: "inputs.x" } } },
};
const SLEEP_10_MS: BlueprintDocument = {
  conductor: "blueprint/v1",
  inputs: { x: {} },
  outputs: { x: "sleep.x" },
  nodes: { sleep: { type: "bench.sleep", runtime: "node", config: { ms: 10 }, inputs: { x: "inputs.x" } } },
};

/**
 * Starts `count` workers serving the project's Node sidecar and a scheduler whose "node" runtime is remote, gives
 * `measure` a function running a blueprint with input x and giving its output x, and stops them all.
 */
async function withWorkers(
  redisUrl: string,
  project: Project,
  count: number,
  concurrency: number,
  measure: (run: (blueprint: BlueprintDocument, x: number) => Promise<unknown>) => Promise<number>,
): Promise<{ value: number }> {
  const workers = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      startWorker({ project, redis: redisUrl, id: `bench-${count}-${i}`, concurrency }),
    ),
  );
  const conductor = await createConductor({
    nodes: allBenchNodes,
    store: false,
    project,
    distributed: { redis: redisUrl, remoteRuntimes: ["node"] },
  });
  try {
    const prepared = new Map<BlueprintDocument, Awaited<ReturnType<typeof conductor.prepare>>>();
    const run = async (blueprint: BlueprintDocument, x: number) => {
      let ready = prepared.get(blueprint);
      if (ready === undefined) {
        ready = await conductor.prepare(blueprint);
        prepared.set(blueprint, ready);
      }
      const result = await ready.run({ x });
      if (result.status !== "completed") {
        throw new Error(
          `a remote execution ${result.status}: ${result.failure?.message ?? "no failure given"}`,
        );
      }
      return result.outputs.x;
    };
    // Warm: every worker's sidecar answered once.
    await run(ONE_NODE, 0);
    return { value: await measure(run) };
  } finally {
    await conductor.close();
    await Promise.all(workers.map((worker) => worker.close()));
  }
}

async function startRedis(): Promise<{ url: string; stop(): void }> {
  const port = await new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port: free } = server.address() as { port: number };
      server.close(() => resolve(free));
    });
  });
  const dir = mkdtempSync(join(tmpdir(), "conductor-bench-redis-"));
  const child: ChildProcess = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes", "--save", ""],
    { stdio: "ignore" },
  );
  const stop = () => {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  const probe = new Redis(port, "127.0.0.1", {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on("error", () => {});
  try {
    for (let i = 0; ; i++) {
      try {
        await probe.connect();
        await probe.ping();
        break;
      } catch (error) {
        if (i >= 100) {
          stop();
          throw new Error(
            `redis-server did not start on port ${port} (is it installed? scripts/setup-redis.sh): ${error}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } finally {
    probe.disconnect();
  }
  return { url: `redis://127.0.0.1:${port}`, stop };
}
