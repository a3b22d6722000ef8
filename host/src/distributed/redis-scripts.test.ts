import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addJob, claimStart, corkForThisTask, type DispatchKeys } from "./redis-scripts.js";

/** A redis-server of its own on a free port (no persistence: nothing here outlives the test). */
async function startRedis(): Promise<{ url: string; child: ChildProcess }> {
  const port = await new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port: free } = server.address() as { port: number };
      server.close(() => resolve(free));
    });
  });
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", ""], {
    stdio: "ignore",
  });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on("error", () => {});
    const answered = await probe
      .connect()
      .then(() => probe.ping())
      .catch(() => undefined);
    probe.disconnect();
    if (answered === "PONG") return { url, child };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill("SIGKILL");
  throw new Error(`redis-server did not answer on port ${port}`);
}

describe("addJob()", () => {
  let redis: Redis;
  let child: ChildProcess;
  let queue: Queue<{ n: number }>;
  const keys: DispatchKeys = {
    jobsKey: "conductor:exec:e1:jobs",
    collectedKey: "conductor:exec:e1:collected",
    keepSeconds: 60,
    nodes: ["a", "b"],
  };
  const job = (n: number) => ({ name: "invoke", data: { n }, opts: { attempts: 1 } });
  const waiting = async () => (await queue.getJobCounts("waiting")).waiting;

  beforeAll(async () => {
    const started = await startRedis();
    child = started.child;
    redis = new Redis(started.url, { maxRetriesPerRequest: null });
    queue = new Queue("run.test", { connection: redis, prefix: "conductor" });
  });

  afterAll(async () => {
    await queue.close();
    redis.disconnect();
    child.kill("SIGKILL");
  });

  it("adds a job and records it as the job of each of its nodes", async () => {
    expect(await addJob(redis, queue, "e1~a~1", job(1), keys)).toBeNull();
    expect(await waiting()).toBe(1);
    expect(await redis.hgetall(keys.jobsKey)).toEqual({ a: "e1~a~1", b: "e1~a~1" });
  });

  it("adds nothing while an earlier job of the node was not collected, and names that job", async () => {
    expect(await addJob(redis, queue, "e1~a~2", job(2), keys)).toBe("e1~a~1");
    expect(await waiting()).toBe(1);
    // The new id is taken by a placeholder, which BullMQ's add found in use; the index still names the earlier job.
    expect(await redis.hget("conductor:run.test:e1~a~2", "conductorSuperseded")).toBe("e1~a~1");
    expect(await redis.hget(keys.jobsKey, "a")).toBe("e1~a~1");
  });

  it("adds the job after all when told to replace the earlier one, removing the placeholder", async () => {
    expect(await addJob(redis, queue, "e1~a~2", job(2), { ...keys, replace: true })).toBeNull();
    expect(await waiting()).toBe(2);
    expect((await queue.getJob("e1~a~2"))?.data).toEqual({ n: 2 });
    expect(await redis.hget(keys.jobsKey, "a")).toBe("e1~a~2");
  });

  it("adds the next attempt once the earlier job was collected", async () => {
    await redis.sadd(keys.collectedKey, "e1~a~2");
    expect(await addJob(redis, queue, "e1~a~3", job(3), keys)).toBeNull();
    expect(await waiting()).toBe(3);
  });

  it("names a job of the same id added before, and adds nothing", async () => {
    expect(await addJob(redis, queue, "e1~a~3", job(33), keys)).toBe("e1~a~3");
    expect(await waiting()).toBe(3);
    expect((await queue.getJob("e1~a~3"))?.data).toEqual({ n: 3 });
  });
});

describe("claimStart()", () => {
  let redis: Redis;
  let child: ChildProcess;

  beforeAll(async () => {
    const started = await startRedis();
    child = started.child;
    redis = new Redis(started.url, { maxRetriesPerRequest: null });
  });

  afterAll(() => {
    redis.disconnect();
    child.kill("SIGKILL");
  });

  it("gives the start to the first claim, to it again, and never to another", async () => {
    expect(await claimStart(redis, "conductor:run.test:j1", "w1 token-1")).toBe(true);
    expect(await claimStart(redis, "conductor:run.test:j1", "w1 token-1")).toBe(true);
    expect(await claimStart(redis, "conductor:run.test:j1", "w2 token-2")).toBe(false);
  });
});

describe("corkForThisTask()", () => {
  /** A connection's socket that records its writes: what went while corked leaves as one write at the uncork. */
  function recordingConnection() {
    const writes: string[][] = [];
    let corked = 0;
    let held: string[] = [];
    const stream = {
      cork: () => {
        corked++;
      },
      uncork: () => {
        if (corked > 0 && --corked === 0 && held.length > 0) {
          writes.push(held);
          held = [];
        }
      },
      write: (chunk: string) => {
        if (corked > 0) held.push(chunk);
        else writes.push([chunk]);
      },
    };
    return { redis: { stream } as unknown as Redis, stream, writes };
  }

  it("sends what a task's promise continuations write in one write, before the event loop's turn ends", async () => {
    const { redis, stream, writes } = recordingConnection();
    // Queued first: runs after this task's continuations, but before anything queued later in the turn.
    const atTurnEnd = new Promise<string[][]>((resolve) => setImmediate(() => resolve([...writes])));
    // As a job's end does: its last live event at once, BullMQ's completion a few promise turns later.
    corkForThisTask(redis);
    stream.write("publish");
    void Promise.resolve()
      .then(() => undefined)
      .then(() => stream.write("moveToFinished"));
    // A task's writes are not held for the rest of the turn (other sockets' callbacks): they left before it ended.
    expect(await atTurnEnd).toEqual([["publish", "moveToFinished"]]);
  });

  it("groups the commands of an I/O callback's continuations when called from one", async () => {
    const { redis, stream, writes } = recordingConnection();
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        // Called straight from a callback, not from a microtask: the continuations still join the write.
        corkForThisTask(redis);
        stream.write("claim");
        void Promise.resolve().then(() => stream.write("claim of the next job"));
        resolve();
      }),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual([["claim", "claim of the next job"]]);
  });
});
