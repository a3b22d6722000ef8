import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
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
 * dispatch (the host adds the job, a worker in this process runs it, in its own process or in its Node sidecar, the
 * events come back) against the floor of a bare BullMQ round trip on the same Redis (add a job, process it, see its
 * completion), with no Conductor, in alternating rounds.
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
      const project: Project = {
        dir: process.cwd(),
        blueprints: [],
        nodes: [],
        runtimes: { node: { kind: "node", modules: [benchNodesModule] } },
      } as Project;
      const results: BenchResult[] = [];
      for (const mode of WORKER_MODES) {
        // The floor of the mode: BullMQ alone, its processor in the consumer's process or sandboxed in child
        // processes; only while the mode is measured (the other's idle processes would weigh on it).
        const floorOfMode = await bareFloor(
          connect,
          `bench-floor-${mode.id}`,
          1,
          DISPATCH_CONCURRENCY,
          !mode.inProcess,
        );
        const remoteWorker = await startWorker({
          project,
          redis: redis.url,
          id: `bench-${mode.id}`,
          concurrency: DISPATCH_CONCURRENCY,
          inProcess: mode.inProcess,
        });
        const conductor = await createConductor({
          nodes: allBenchNodes,
          store: false,
          project,
          distributed: { redis: redis.url, remoteRuntimes: ["node"] },
        });
        try {
          const single = await conductor.prepare(chain(1, "node"));
          const idempotent = await conductor.prepare(ONE_IDEMPOTENT_NODE);
          const withEffects = await conductor.prepare(ONE_NODE_WITH_EFFECTS);
          for (const prepared of [single, idempotent, withEffects])
            if ((await prepared.run({ x: 1 })).outputs.x !== 2)
              throw new Error("remote node gave a wrong result");
          // In alternating rounds, because the load of a shared machine moves more than the difference measured.
          const [floor, dispatch, dispatchIdempotent, dispatchWithEffects] = await alternate(
            [
              () => floorOfMode.roundTrip(1),
              () => single.run({ x: 1 }),
              () => idempotent.run({ x: 1 }),
              () => withEffects.run({ x: 1 }),
            ],
            iterations,
          );
          const bare = {
            what: `bare BullMQ round trip (add, process, completion)${mode.floorText}`,
            value: floor!.median,
          };
          results.push(
            rowOf(
              mode,
              `distributed-dispatch${mode.suffix}`,
              `remote one-node dispatch through Redis to a worker running the node ${mode.where} (1-node execution; the node is deterministic, not idempotent: the worker claims its start while it runs, and its events leave once the claim answered)`,
              dispatch!.median,
              bare,
              1.5,
            ),
            rowOf(
              mode,
              `distributed-dispatch-idempotent${mode.suffix}`,
              `the same${mode.again} with an idempotent node (no start claim)`,
              dispatchIdempotent!.median,
              bare,
              1.5,
            ),
            rowOf(
              mode,
              `distributed-dispatch-effects${mode.suffix}`,
              `the same${mode.again} with a node neither deterministic nor idempotent (it may have side effects: the worker claims its start before it runs it, one more Redis round trip)`,
              dispatchWithEffects!.median,
              bare,
              1.5,
            ),
          );
        } finally {
          await conductor.close();
          await remoteWorker.close();
          await floorOfMode.close();
        }
      }
      results.push(...(await throughput(context, redis.url, project, connect)));
      return results;
    } finally {
      for (const connection of connections) connection.disconnect();
      redis.stop();
    }
  },
};

/**
 * Jobs the worker takes at once in the dispatch rounds, the bare BullMQ worker's and Conductor's alike (BullMQ's
 * default). With more, a BullMQ worker that took a job asks Redis for the next one at once while the job runs (one
 * more script and a blocking read per job when the queue is empty), which on a loaded machine costs a lone
 * dispatch as much as the rest of the worker's side: the two sides must take the same number.
 */
const DISPATCH_CONCURRENCY = 1;

/** How the worker runs the Node runtime's nodes: where, and whether the targets apply to it. */
interface WorkerMode {
  id: string;
  inProcess: boolean;
  /** Suffix of the ids of its rows. */
  suffix: string;
  /** Where the node runs, for the rows' text. */
  where: string;
  /** Text after "the same" in the rows after the first. */
  again: string;
  /** Whether its rows are held to the targets, or only reported. */
  targets: boolean;
  /** What its floor's processor is, after the floor's text. */
  floorText: string;
}

/**
 * The worker's two ways of running a Node runtime (docs/distributed.md, "Node runtimes in the worker"): inside its
 * own process (`conductor worker --in-process`), which is what the floor does (a BullMQ processor runs in its
 * consumer's process), and held to the targets; and in a Node sidecar (the default, one more process hop per node),
 * reported against the floor of BullMQ's own way of isolating a processor: sandboxed, in child processes.
 */
const WORKER_MODES: readonly WorkerMode[] = [
  {
    id: "in-process",
    inProcess: true,
    suffix: "",
    where: "in its own process (--in-process)",
    again: "",
    targets: true,
    floorText: "",
  },
  {
    id: "sidecar",
    inProcess: false,
    suffix: "-sidecar",
    where: "in its Node sidecar (the default)",
    again: " in the sidecar",
    targets: false,
    floorText: ", the processor sandboxed (BullMQ's child processes)",
  },
];

/** A row held to its target in a mode that has targets, reported (with its floor and ratio) otherwise. */
function rowOf(
  mode: WorkerMode,
  id: string,
  what: string,
  value: number,
  floor: { what: string; value: number },
  maxRatio: number,
): BenchResult {
  if (mode.targets) return againstFloor(id, what, value, floor, maxRatio);
  return { id, what, value, unit: "µs", floor, ratio: value / floor.value, target: "reported" };
}

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

/** Rounds of the throughput runs: each round times bare BullMQ and Conductor one after the other. */
const THROUGHPUT_ROUNDS = 6;

/**
 * Throughput of trivial remote nodes with 1, 2 and 4 workers (running the nodes in their own process, then each in
 * its Node sidecar) against a bare BullMQ
 * producer and consumers at the same concurrency, as time per node, in alternating rounds. The floor does what the
 * scheduler does: it keeps as many jobs in flight (`workers × 8 × 2`), adds each with its own command, and sees
 * each one's completion (BullMQ's `QueueEvents`, as the round-trip floor). Also reported: the floor as it was
 * measured before, all jobs added in one bulk command and counted by the consumers (no producer sees a result).
 * Then 200 nodes sleeping 10 ms on 1 and on 2 workers (in-process) taking one node at a time (the wall time should
 * halve).
 */
async function throughput(
  context: Parameters<Scenario["run"]>[0],
  redisUrl: string,
  project: Project,
  connect: () => Redis,
): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const tasks = context.iterations(2_000);
  const rounds = context.smoke ? 1 : THROUGHPUT_ROUNDS;
  const perRound = Math.max(1, Math.ceil(tasks / rounds));
  // Redis commands per task, for the capacity model: every command Redis processed while the tasks ran (idle
  // connections' polling included), over the number of tasks.
  const probe = connect();
  const commandsNow = async () =>
    Number(/total_commands_processed:(\d+)/.exec(await probe.info("stats"))?.[1] ?? Number.NaN);
  const commands = { floor: 0, conductor: 0 };
  for (const count of [1, 2, 4]) {
    const window = count * WORKER_CONCURRENCY * 2;
    // The floor of each mode (below): bare BullMQ, `count` consumers, a producer that sees each completion, the
    // processor in the consumers' process or sandboxed. Also the floor of earlier runs: jobs added in bulk to the
    // first, counted by its consumers.
    const floorRound = async (floor: BareFloor) => {
      const start = performance.now();
      const outcomes = await inWindow(perRound, window, (i) => floor.roundTrip(i));
      if (outcomes.some((outcome, i) => outcome !== i + 1))
        throw new Error("a bare BullMQ job gave a wrong result");
      return ((performance.now() - start) * 1_000) / perRound;
    };
    const bulkFloorRound = async (floor: BareFloor) => {
      const finished = floor.completions(perRound);
      const start = performance.now();
      await floor.queue.addBulk(
        Array.from({ length: perRound }, (_, i) => ({
          name: "j",
          data: { x: i },
          opts: { removeOnComplete: true },
        })),
      );
      await finished;
      return ((performance.now() - start) * 1_000) / perRound;
    };

    // Conductor: `count` workers, one scheduler running one-node executions, `window` at once; each worker mode in
    // rounds alternating with the floor.
    const bulk: number[] = [];
    const floorText = (mode: WorkerMode) =>
      `bare BullMQ producer/consumer, ${count} consumer${count === 1 ? "" : "s"} × ${WORKER_CONCURRENCY}, ${window} jobs in flight, each completion seen by the producer${mode.floorText}`;
    const workersText = `${count} worker${count === 1 ? "" : "s"}`;
    for (const mode of WORKER_MODES) {
      const samples = { floor: [] as number[], conductor: [] as number[] };
      const floor = await bareFloor(
        connect,
        `bench-throughput-${count}-${mode.id}`,
        count,
        WORKER_CONCURRENCY,
        !mode.inProcess,
      );
      try {
        await withWorkers(redisUrl, project, count, WORKER_CONCURRENCY, mode.inProcess, async (run) => {
          const conductorRound = async () => {
            const start = performance.now();
            const outcomes = await inWindow(perRound, window, (i) => run(ONE_NODE, i));
            if (outcomes.some((outcome, i) => outcome !== i + 1))
              throw new Error("a remote node gave a wrong result");
            return ((performance.now() - start) * 1_000) / perRound;
          };
          for (let round = 0; round < rounds; round++) {
            // The commands of the first round with one worker, for the capacity model.
            const counted = count === 1 && round === 0 && mode.targets;
            let before = counted ? await commandsNow() : 0;
            if (mode.targets) bulk.push(await bulkFloorRound(floor));
            if (counted) commands.floor = ((await commandsNow()) - before - 1) / perRound;
            samples.floor.push(await floorRound(floor));
            before = counted ? await commandsNow() : 0;
            samples.conductor.push(await conductorRound());
            if (counted) commands.conductor = ((await commandsNow()) - before - 1) / perRound;
          }
          return 0;
        });
      } finally {
        await floor.close();
      }
      const perTask = summarize(samples.conductor).median;
      results.push(
        rowOf(
          mode,
          `distributed-throughput-${count}w${mode.suffix}`,
          `trivial remote nodes with ${workersText} (${WORKER_CONCURRENCY} at once each, ${window} in flight) running them ${mode.where}, time per node, median of ${rounds} alternating rounds of ${perRound}`,
          perTask,
          { what: floorText(mode), value: summarize(samples.floor).median },
          // ≥ 70 % of the bare throughput is at most 1/0.7 ≈ 1.43 times its time per node.
          1.43,
        ),
      );
      if (mode.targets)
        results.push({
          id: `distributed-throughput-${count}w-bulk`,
          what: `the same against bare BullMQ jobs added in one bulk command and counted by the consumers (no producer sees a result; the floor of earlier runs)`,
          value: perTask / summarize(bulk).median,
          unit: "×",
          target: "reported",
        });
    }
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
    const { value } = await withWorkers(redisUrl, project, count, 1, true, async (run) => {
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
const ONE_NODE_WITH_EFFECTS: BlueprintDocument = {
  conductor: "blueprint/v1",
  inputs: { x: {} },
  outputs: { x: "n0.x" },
  nodes: { n0: { type: "bench.increment-with-effects", runtime: "node", inputs: { x: "inputs.x" } } },
};
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
 * Starts `count` workers serving the project's Node runtime (in their own process, or each in its Node sidecar) and
 * a scheduler whose "node" runtime is remote, gives
 * `measure` a function running a blueprint with input x and giving its output x, and stops them all.
 */
async function withWorkers(
  redisUrl: string,
  project: Project,
  count: number,
  concurrency: number,
  inProcess: boolean,
  measure: (run: (blueprint: BlueprintDocument, x: number) => Promise<unknown>) => Promise<number>,
): Promise<{ value: number }> {
  const workers = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      startWorker({ project, redis: redisUrl, id: `bench-${count}-${i}`, concurrency, inProcess }),
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

/** A bare BullMQ queue, its consumers and a producer that sees each completion: the floor of Conductor's figures. */
interface BareFloor {
  queue: Queue;
  /** Adds a job of input x and gives its output x once the producer saw its completion. */
  roundTrip(x: number): Promise<number>;
  /** Resolves once the consumers completed `count` more jobs (the bulk floor's count). */
  completions(count: number): Promise<void>;
  close(): Promise<void>;
}

const sandboxedProcessor = fileURLToPath(new URL("../sandboxed-increment.js", import.meta.url));

async function bareFloor(
  connect: () => Redis,
  name: string,
  consumers: number,
  concurrency: number,
  sandboxed: boolean,
): Promise<BareFloor> {
  const queue = new Queue(name, { connection: connect() });
  const events = new QueueEvents(name, { connection: connect() });
  let done = 0;
  let target = Number.POSITIVE_INFINITY;
  let reached: () => void = () => {};
  const workers = Array.from({ length: consumers }, () =>
    new Worker(
      name,
      sandboxed ? sandboxedProcessor : async (job) => ({ x: (job.data as { x: number }).x + 1 }),
      { connection: connect(), concurrency },
    ).on("completed", () => {
      if (++done === target) reached();
    }),
  );
  await events.waitUntilReady();
  await Promise.all(workers.map((worker) => worker.waitUntilReady()));
  const roundTrip = async (x: number) => {
    const job = await queue.add("j", { x }, { removeOnComplete: { count: 1_000 } });
    return ((await job.waitUntilFinished(events)) as { x: number }).x;
  };
  // Warm: every consumer busy at once, so a sandboxed one has started all its child processes.
  await Promise.all(Array.from({ length: consumers * concurrency * 2 }, (_, x) => roundTrip(x)));
  return {
    queue,
    roundTrip,
    completions: (count) => {
      done = 0;
      target = count;
      return new Promise<void>((resolve) => {
        reached = resolve;
      });
    },
    close: async () => {
      await Promise.all(workers.map((worker) => worker.close()));
      await events.close();
      await queue.close();
    },
  };
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
