import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConductor, type Project, startWorker } from "@conductor/host";
import { Queue, QueueEvents, Worker } from "bullmq";
import { Redis } from "ioredis";
import { benchNodesModule } from "../bench-conductor.js";
import { allBenchNodes } from "../bench-nodes.js";
import { chain } from "../blueprints.js";
import { timeSequential } from "../stats.js";
import { againstFloor, type Scenario } from "./index.js";

/**
 * Distributed execution (docs/distributed.md) on a redis-server started here (AOF on): a remote one-node
 * dispatch (the host adds the job, a worker in this process runs it in its Node sidecar, the events come back)
 * against the floor of a bare BullMQ round trip on the same Redis (add a job, process it, see its completion),
 * with no Conductor.
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
      const floor = await timeSequential(async () => {
        const job = await queue.add("j", { x: 1 }, { removeOnComplete: { count: 1_000 } });
        await job.waitUntilFinished(events);
      }, iterations);
      await worker.close();
      await events.close();
      await queue.close();

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
        if ((await single.run({ x: 1 })).outputs.x !== 2) throw new Error("remote node gave a wrong result");
        const dispatch = await timeSequential(() => single.run({ x: 1 }), iterations);
        return [
          againstFloor(
            "distributed-dispatch",
            "remote one-node dispatch through Redis to a worker's Node sidecar (1-node execution)",
            dispatch.median,
            { what: "bare BullMQ round trip (add, process, completion)", value: floor.median },
            1.5,
          ),
        ];
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
