/**
 * A worker running the project's Node runtimes in its own process (`conductor worker --in-process`, `startWorker`'s
 * `inProcess`), against a real redis-server: the nodes run in the worker's process (not in a sidecar), values larger
 * than a job still go through the blob store both ways, a runtime whose module does not load stops the worker with
 * the runtime's name, and a node that ends the worker's process loses only that worker: its job is re-delivered to
 * another worker, as a killed worker's is.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createConductor, startWorker } from "@conductor/host";
import { defineNode, values } from "@conductor/sdk";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type Member, startWorkerProcess, stop } from "./cluster.js";
import { readRuns, startDistSetup, waitFor, writeDistProject } from "./dist-project.js";
import { startRedis, type TestRedis } from "./redis-server.js";

const blobNodes = fileURLToPath(new URL("./fixtures/blob-nodes.ts", import.meta.url));

describe("a worker running Node runtimes in its own process", () => {
  let root: string;
  let redis: TestRedis;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "conductor-in-process-worker-"));
    redis = await startRedis();
  });

  afterAll(async () => {
    await redis?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it("runs the nodes in the worker's process with --in-process, and in a sidecar without", async () => {
    for (const inProcess of [true, false]) {
      const setup = await startDistSetup({
        prefix: `conductor-in-process-worker-${inProcess ? "on" : "off"}-`,
        project: { length: 3, ms: 0 },
        worker: { id: `w-${inProcess}`, inProcess },
      });
      try {
        const result = await setup.conductor.run(join(setup.dir, "host", "relay.blueprint.yaml"), {
          start: 5,
        });
        expect(result.status, result.failure?.message).toBe("completed");
        expect(result.outputs).toEqual({ value: 8 });
        const runs = await readRuns(join(setup.dir, "runs.log"));
        expect(runs.map((run) => run.nodeId)).toEqual(["n0", "n1", "n2"]);
        // The worker runs in this test's process: its nodes too, with --in-process; in its sidecar, another.
        for (const run of runs) {
          if (inProcess) expect(run.pid).toBe(process.pid);
          else expect(run.pid).not.toBe(process.pid);
        }
      } finally {
        await setup.close();
      }
    }
  });

  it("passes values larger than a job through the blob store both ways", async () => {
    const dir = join(root, "blobs");
    for (const name of ["worker", "host"]) {
      await mkdir(join(dir, name), { recursive: true });
      await writeFile(
        join(dir, name, "conductor.yaml"),
        `conductor: project/v1\nruntimes:\n  node: { kind: node, modules: [${JSON.stringify(blobNodes)}] }\n`,
      );
    }
    const inlineLimit = 64 * 1024;
    const worker = await startWorker({
      projectDir: join(dir, "worker"),
      redis: redis.url,
      id: "blobs",
      inProcess: true,
      inlineLimit,
    });
    const make = defineNode({
      type: "local.make",
      config: z.object({ bytes: z.number().int() }),
      output: { data: values.bytes() },
      run: (_inputs, ctx) => ({ data: new Uint8Array(ctx.config.bytes).map((_, i) => (i * 7) & 0xff) }),
    });
    const digest = defineNode({
      type: "local.digest",
      input: { data: values.bytes() },
      output: { sha256: z.string() },
      run: ({ data }) => ({ sha256: createHash("sha256").update(data).digest("hex") }),
    });
    const conductor = await createConductor({
      projectDir: join(dir, "host"),
      store: false,
      nodes: [make, digest],
      distributed: { redis: redis.url, remoteRuntimes: ["node"], inlineLimit },
    });
    const client = new Redis(redis.url);
    try {
      const size = 1024 * 1024 + 3;
      const given = new Uint8Array(size).map((_, i) => (i * 7) & 0xff);
      const flipped = given.map((byte) => byte ^ 0xff);
      const setsBefore = Number(/cmdstat_set:calls=(\d+)/.exec(await client.info("commandstats"))?.[1] ?? 0);
      const result = await conductor.run({
        conductor: "blueprint/v1",
        outputs: { sha256: "check.sha256", inputSha256: "flip.inputSha256" },
        nodes: {
          make: { type: "local.make", config: { bytes: size } },
          flip: { type: "blob.flip", inputs: { data: "make.data" } },
          check: { type: "local.digest", inputs: { data: "flip.data" } },
        },
      });
      expect(result.status, result.failure?.message).toBe("completed");
      expect(result.outputs).toEqual({
        inputSha256: createHash("sha256").update(given).digest("hex"),
        sha256: createHash("sha256").update(flipped).digest("hex"),
      });
      // Both values went through the store in chunks (each chunk is one SET): more than one each way.
      const sets = Number(/cmdstat_set:calls=(\d+)/.exec(await client.info("commandstats"))?.[1] ?? 0);
      expect(sets - setsBefore).toBeGreaterThanOrEqual(4);
    } finally {
      client.disconnect();
      await conductor.close();
      await worker.close();
    }
  });

  it("does not start when a Node runtime's module does not load, naming the runtime", async () => {
    const dir = join(root, "broken");
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, "conductor.yaml"),
      "conductor: project/v1\nruntimes:\n  scripts: { kind: node, modules: [./missing-nodes.ts] }\n",
    );
    await expect(
      startWorker({ projectDir: dir, redis: redis.url, id: "broken", inProcess: true }),
    ).rejects.toThrow(/runtime "scripts" of project .* does not load in the worker: .*missing-nodes/);
  });

  it("re-delivers the job of a node that ended its worker's process to another worker", async () => {
    const runsFile = join(root, "crash-runs.log");
    const marker = join(root, "crash-marker");
    for (const name of ["w1", "w2", "host"])
      await writeDistProject(join(root, name), { runsFile, length: 1, ms: 0 });
    // A Redis of its own: BullMQ's stalled check runs at most once per interval on a queue, and a worker of another
    // test with a longer interval would hold it back.
    const own = await startRedis();
    const workers: Member[] = [];
    const conductor = await createConductor({
      projectDir: join(root, "host"),
      store: false,
      distributed: { redis: own.url, remoteRuntimes: ["node"] },
    });
    try {
      // A short lock, so that the lost job is found stalled soon.
      const flags = ["--in-process", "--lock-ms", "1500"];
      workers.push(await startWorkerProcess("w1", join(root, "w1"), own.url, flags));
      expect(workers[0]!.output()).toContain(`serves "node" (in the worker's own process)`);
      const running = conductor.run({
        conductor: "blueprint/v1",
        outputs: { value: "crash.value" },
        nodes: {
          crash: {
            type: "dist.crash-once",
            config: { file: runsFile, marker },
            inputs: { value: { value: 41 } },
          },
        },
      });
      // The node ends w1's process; w2 comes after, so the job can only be re-delivered to it.
      await waitFor("the first worker to exit", () => workers[0]!.child.exitCode !== null);
      expect(await readFile(marker, "utf8")).toBe(String(workers[0]!.child.pid));
      workers.push(await startWorkerProcess("w2", join(root, "w2"), own.url, flags));
      const result = await running;
      expect(result.status, result.failure?.message).toBe("completed");
      expect(result.outputs).toEqual({ value: 42 });
      const runs = (await readRuns(runsFile)).filter((run) => run.kind === "crash");
      expect(runs.map((run) => run.pid)).toEqual([workers[0]!.child.pid, workers[1]!.child.pid]);
    } finally {
      await conductor.close();
      for (const member of workers) await stop(member, "SIGKILL");
      await own.stop();
    }
  });
});
