/**
 * Values larger than a job takes, between machines, against a real redis-server: a worker (in this process, its
 * own project directory) serves the Node sidecar with `fixtures/blob-nodes.ts`; the host makes and checks the values
 * with nodes of its own. A 100 MiB+ value goes to the worker and another comes back through the Redis blob store;
 * an Arrow table too; the blobs are gone once the execution ended; a missing chunk fails the node that needed it.
 */
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Conductor, ConductorWorker, ExecutionEvent } from "@conductor/host";
import { defineNode, values } from "@conductor/sdk";
import { type Table, tableFromArrays } from "apache-arrow";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type DistributedHost, startDistributedHost } from "../fixtures/distributed-host.js";
import { waitFor } from "./dist-project.js";

const fixture = fileURLToPath(new URL("./fixtures/blob-nodes.ts", import.meta.url));

/** The bytes `local.make` gives: a pattern no chunk boundary can hide a shift in. */
function pattern(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let index = 0; index < size; index++) bytes[index] = (index * 7 + (index >> 20)) & 0xff;
  return bytes;
}

const make = defineNode({
  type: "local.make",
  config: z.object({ bytes: z.number().int() }),
  output: { data: values.bytes() },
  run: (_inputs, ctx) => ({ data: pattern(ctx.config.bytes) }),
});

const digest = defineNode({
  type: "local.digest",
  input: { data: values.bytes() },
  output: { sha256: z.string(), bytes: z.number().int() },
  run: ({ data }) => ({ sha256: createHash("sha256").update(data).digest("hex"), bytes: data.byteLength }),
});

const table = defineNode({
  type: "local.table",
  config: z.object({ rows: z.number().int() }),
  output: { table: values.table() },
  run: (_inputs, ctx) => ({
    table: tableFromArrays({ x: Float64Array.from({ length: ctx.config.rows }, (_, index) => index) }),
  }),
});

const sum = defineNode({
  type: "local.sum",
  input: { table: values.table() },
  output: { sum: z.number(), rows: z.number().int() },
  run: ({ table: given }: { table: Table }) => {
    const column = given.getChild("x")!.toArray() as Float64Array;
    return { sum: column.reduce((total, x) => total + x, 0), rows: given.numRows };
  },
});

function flipBlueprint(bytes: number) {
  return {
    conductor: "blueprint/v1" as const,
    id: `flip-${bytes}`,
    outputs: {
      sha256: "check.sha256",
      bytes: "check.bytes",
      inputSha256: "flip.inputSha256",
      inputBytes: "flip.inputBytes",
    },
    nodes: {
      make: { type: "local.make", config: { bytes } },
      flip: { type: "blob.flip", inputs: { data: "make.data" } },
      check: { type: "local.digest", inputs: { data: "flip.data" } },
    },
  };
}

/** How many SET commands Redis ran (each chunk of the blob store is one). */
async function chunkWrites(redis: Redis): Promise<number> {
  const stats = await redis.info("commandstats");
  return Number(/cmdstat_set:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

async function blobKeys(redis: Redis, executionId = "*"): Promise<string[]> {
  const keys: string[] = [];
  for (const match of [`conductor:blob:${executionId}:*`, `conductor:exec:${executionId}:blobs`]) {
    let cursor = "0";
    do {
      const [next, found] = await redis.scan(cursor, "MATCH", match, "COUNT", 1000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== "0");
  }
  return keys;
}

describe("values larger than a job, through the Redis blob store", () => {
  let setup: DistributedHost | undefined;
  let client: Redis;
  let worker: ConductorWorker;
  let conductor: Conductor;

  beforeAll(async () => {
    setup = await startDistributedHost({
      prefix: "conductor-blobs-",
      writeProjects: async (dir) => {
        for (const name of ["worker", "host"]) {
          await mkdir(join(dir, name), { recursive: true });
          await writeFile(
            join(dir, name, "conductor.yaml"),
            `conductor: project/v1\nruntimes:\n  node: { kind: node, modules: [${JSON.stringify(fixture)}] }\n`,
          );
        }
      },
      worker: { id: "w1" },
      conductor: { nodes: [make, digest, table, sum] },
    });
    ({ worker, conductor } = setup);
    client = new Redis(setup.redis.url);
  });

  afterAll(async () => {
    client?.disconnect();
    await setup?.close();
  });

  it("sends a 100 MiB+ value to a worker and gets one back, and removes the blobs when the execution ended", async () => {
    const size = 100 * 1024 * 1024 + 12_345;
    const given = pattern(size);
    const expectedIn = createHash("sha256").update(given).digest("hex");
    for (let index = 0; index < size; index++) given[index] = given[index]! ^ 0xff;
    const expectedOut = createHash("sha256").update(given).digest("hex");
    const setsBefore = await chunkWrites(client);
    const result = await conductor.run(flipBlueprint(size));
    expect(result.status).toBe("completed");
    // Both values went through the store in chunks of 1 MiB: 101 chunks each way.
    expect((await chunkWrites(client)) - setsBefore).toBeGreaterThanOrEqual(2 * 101);
    expect(result.outputs).toEqual({
      inputSha256: expectedIn,
      inputBytes: size,
      sha256: expectedOut,
      bytes: size,
    });
    // The execution's blobs (its input, put by the host, and its output, put by the worker) are removed once it
    // ended: nothing of it is left in Redis.
    await waitFor("the execution's blobs to be removed", async () => (await blobKeys(client)).length === 0);
  });

  it("passes an Arrow table larger than a job through the store both ways, as a table", async () => {
    const rows = 300_000; // 2.4 MB of float64, over the 1 MiB a job carries
    const result = await conductor.run({
      conductor: "blueprint/v1",
      id: "tables",
      outputs: { sum: "total.sum", rows: "total.rows" },
      nodes: {
        source: { type: "local.table", config: { rows } },
        scale: { type: "blob.scale", inputs: { table: "source.table" } },
        total: { type: "local.sum", inputs: { table: "scale.table" } },
      },
    });
    expect(result.status).toBe("completed");
    expect(result.outputs).toEqual({ sum: rows * (rows - 1), rows });
    await waitFor("the execution's blobs to be removed", async () => (await blobKeys(client)).length === 0);
  });

  it("fails the node whose input lost a chunk, naming the node and the port", async () => {
    // No worker while the execution starts: its input waits in the store, and the test removes a chunk of it.
    await worker.close();
    const events: ExecutionEvent[] = [];
    const handle = await conductor.start(
      flipBlueprint(3 * 1024 * 1024),
      {},
      {
        onEvent: (event) => events.push(event),
      },
    );
    await waitFor("the remote node to wait for a worker", () =>
      events.some(
        (event) =>
          event.type === "node.log" &&
          event.nodeId === "flip" &&
          event.message.startsWith("waiting for a worker"),
      ),
    );
    const chunks = (await blobKeys(client, handle.executionId)).filter((key) => /:\d+$/.test(key)).sort();
    expect(chunks).toHaveLength(3);
    await client.del(chunks.find((key) => key.endsWith(":1"))!);
    worker = await setup!.startWorker({ id: "w2" });
    const result = await handle.result;
    expect(result.status).toBe("failed");
    const failed = events.find((event) => event.type === "node.failed");
    expect(failed?.nodeId).toBe("flip");
    const failure = (failed as { failure: { type: string; message: string; retryable: boolean } }).failure;
    expect(failure.type).toBe("blob.corrupt");
    expect(failure.retryable).toBe(false);
    expect(failure.message).toMatch(
      /^input "data" of node "flip" \(blob\.flip\) cannot be read: chunk 2 of 3 of blob redis-blob:\S+ is missing from Redis \(it expired, or was removed when its execution ended\)$/,
    );
    await waitFor(
      "the failed execution's blobs to be removed",
      async () => (await blobKeys(client, handle.executionId)).length === 0,
    );
  });
});
