import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createConductor, type RuntimeSpec } from "@conductor/host";
import { defineNode, stream, values } from "@conductor/sdk";
import { z } from "zod";
import { pythonInterpreter, rustRuntime } from "./runtimes.js";
import { againstFloor, againstTarget, type BenchResult, type Scenario } from "./scenarios/index.js";
import { timeSequential } from "./stats.js";

const repo = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

/** Python with the example stream nodes (py.batches) and the conformance set (conformance.count). */
const pythonStreams: RuntimeSpec = {
  kind: "python",
  modules: ["stream_nodes", "conductor_runtime.conformance"],
  path: [repo("runtimes/python/examples")],
  venv: repo("runtimes/python/.venv"),
  runtimePackage: repo("runtimes/python"),
};

/** When the TypeScript reader got its first batch of the current run (performance.now()). */
let firstBatchAt = 0;

/** Reads a stream of record batches: rows, batches, the sum of `value`; notes when the first came. */
const batchStats = defineNode({
  type: "bench.batch-stats",
  input: { batches: stream(values.table()) },
  output: { rows: z.number().int(), batches: z.number().int(), sum: z.number() },
  run: async ({ batches }) => {
    let rows = 0;
    let count = 0;
    let sum = 0;
    for await (const batch of batches) {
      if (count === 0) firstBatchAt = performance.now();
      count++;
      rows += batch.numRows;
      const value = batch.getChild("value")!.toArray() as Float64Array;
      for (let i = 0; i < value.length; i++) sum += value[i]!;
    }
    return { rows, batches: count, sum };
  },
});

/** Reads a stream of integers and counts them. */
const countItems = defineNode({
  type: "bench.count-items",
  input: { items: stream(z.number()) },
  output: { count: z.number().int() },
  run: async ({ items }) => {
    let count = 0;
    for await (const _item of items) count++;
    return { count };
  },
});

/**
 * The same batches py.batches makes, made the same way (runtimes/python/examples/stream_nodes.py), written as an
 * Arrow IPC stream to a Unix socket (the floor's producer).
 */
const FLOOR_PRODUCER = `
import socket, sys
import numpy as np, pyarrow as pa, pyarrow.compute as pc
path, rows, batch_rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
schema = pa.schema([("id", pa.int64()), ("value", pa.float64()), ("label", pa.string())])
def batch(start):
    ids = pa.array(np.arange(start, min(start + batch_rows, rows), dtype=np.int64))
    labels = pc.binary_join_element_wise(pa.scalar("row-"), pc.cast(ids, pa.string()), "")
    return pa.RecordBatch.from_arrays([ids, pc.cast(ids, pa.float64()), labels], schema=schema)
batch(0)  # warm the compute kernels, as the runtime's are warm
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(path)
out = sock.makefile("wb", buffering=0)  # each batch leaves as it is written
with pa.ipc.new_stream(out, schema) as writer:
    for start in range(0, rows, batch_rows):
        writer.write_batch(batch(start))
out.close()
sock.close()
`;

/**
 * The floor's reader, a second Python process: listens on the socket, reads the Arrow IPC stream batch by batch
 * with pyarrow (as fast a reader as the pipeline's), sums `value` and prints, as one JSON line, the rows, the sum,
 * the IPC bytes, and the times from the connection to the first batch and to the end.
 */
const FLOOR_READER = `
import io, json, os, socket, sys, time
import pyarrow as pa, pyarrow.compute as pc
path = sys.argv[1]
class Counting(io.RawIOBase):
    def __init__(self, sock):
        self.sock, self.bytes = sock, 0
    def readable(self):
        return True
    def readinto(self, buffer):
        n = self.sock.recv_into(buffer)
        self.bytes += n
        return n
pc.sum(pa.array([0.0]))  # warm the kernel, as the TypeScript reader is warm
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
server.listen(1)
print("ready", flush=True)
connection, _ = server.accept()
connected = time.perf_counter()
raw = Counting(connection)
first, rows, total = 0.0, 0, 0.0
for batch in pa.ipc.open_stream(io.BufferedReader(raw, 1 << 20)):
    if first == 0.0:
        first = time.perf_counter()
    rows += batch.num_rows
    total += pc.sum(batch.column(1)).as_py() or 0.0
ended = time.perf_counter()
print(json.dumps({"rows": rows, "sum": total, "bytes": raw.bytes, "ms": (ended - connected) * 1000, "firstMs": (first - connected) * 1000}), flush=True)
`;

interface FloorRun {
  ms: number;
  bytes: number;
  rows: number;
  firstMs: number;
}

/**
 * The floor: two Python processes, one writing the batches as Arrow IPC over a raw Unix socket, the other reading
 * and summing them with pyarrow; timed by the reader from the connection.
 */
async function floorRun(rows: number, batchRows: number): Promise<FloorRun> {
  const dir = mkdtempSync(join(tmpdir(), "bench-ipc-"));
  const path = join(dir, "ipc.sock");
  try {
    const reader = spawn(pythonInterpreter, ["-c", FLOOR_READER, path], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    const ready = new Promise<void>((resolve, reject) => {
      reader.stdout!.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.startsWith("ready\n")) resolve();
      });
      reader.once("exit", (code) =>
        reject(new Error(`the floor's reader exited ${code} before it listened`)),
      );
    });
    const exited = new Promise<number | null>((resolve) => reader.once("exit", resolve));
    await ready;
    const writer = spawn(pythonInterpreter, ["-c", FLOOR_PRODUCER, path, String(rows), String(batchRows)], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    const [readerCode, writerCode] = await Promise.all([
      exited,
      new Promise<number | null>((resolve) => writer.once("exit", resolve)),
    ]);
    if (readerCode !== 0 || writerCode !== 0)
      throw new Error(`the floor's reader exited ${readerCode}, its writer ${writerCode}: ${out}`);
    const run = JSON.parse(out.slice("ready\n".length)) as FloorRun & { sum: number };
    if (run.rows !== rows || run.sum !== (rows * (rows - 1)) / 2) {
      throw new Error(`the floor read ${run.rows} rows summing to ${run.sum}, expected ${rows}`);
    }
    return run;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The host's own RSS (a `conductor run` process, sampled from /proc every 20 ms) while it runs the pipeline of
 * examples/streaming over `rows` rows; gives its peak in MB and the rows the reader counted.
 */
async function hostRss(
  rows: number,
  batchRows: number,
  withRust: boolean,
): Promise<{ peakMb: number; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), "bench-stream-"));
  const blueprint = join(dir, "stream.blueprint.yaml");
  writeFileSync(
    blueprint,
    `conductor: blueprint/v1
inputs: { rows: { schema: { type: integer } }, batchRows: { schema: { type: integer } } }
outputs: { rows: stats.rows }
nodes:
  batches: { type: py.batches, inputs: { rows: inputs.rows, batchRows: inputs.batchRows } }
${
  withRust
    ? `  scale: { type: rs.scale-batches, inputs: { batches: batches.batches, factor: { value: 2 } } }
  stats: { type: ts.batch-stats, inputs: { batches: scale.batches } }`
    : "  stats: { type: ts.batch-stats, inputs: { batches: batches.batches } }"
}
`,
  );
  try {
    const child = spawn(
      process.execPath,
      [
        repo("host/bin/conductor.js"),
        "run",
        blueprint,
        "--project",
        repo("examples/streaming"),
        "--no-journal",
        "--quiet",
        "-i",
        `rows=${rows}`,
        "-i",
        `batchRows=${batchRows}`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    let peakKb = 0;
    const sample = () => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
        const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
        peakKb = Math.max(peakKb, kb);
      } catch {
        // The process has exited.
      }
    };
    const sampler = setInterval(sample, 20);
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    clearInterval(sampler);
    if (code !== 0) throw new Error(`conductor run of the stream pipeline exited ${code}: ${out}`);
    return { peakMb: peakKb / 1024, out };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Streams across processes (docs/streaming.md): Arrow record batches made lazily in Python, scaled in Rust, read in
 * TypeScript in the host, against a floor measured in the same run: the same batches written by Python as an Arrow
 * IPC stream over a raw Unix socket and read by a second Python process with pyarrow (a reader as fast as the
 * pipeline's). Rows/s and MB/s of both (MB counted as the floor's IPC bytes), the host's peak RSS during the
 * Conductor run (≤ 200 MB whatever the rows), the time from the start to the first batch in TypeScript against the
 * floor's, and one item's hop from Python to a TypeScript reader against one node dispatch to Python. 10^8 rows
 * outside smoke mode, 2·10^4 in it.
 */
export const streamCrossScenario: Scenario = {
  id: "stream-cross",
  title:
    "streams across processes: Arrow batches Python → Rust → TypeScript against Arrow IPC over a Unix socket",
  async run(context) {
    const rows = context.smoke ? 20_000 : 100_000_000;
    const batchRows = context.smoke ? 1_000 : 100_000;
    const conductor = await createConductor({
      nodes: [batchStats, countItems] as never[],
      store: false,
      project: {
        dir: process.cwd(),
        blueprints: [],
        nodes: [],
        runtimes: { python: pythonStreams, rust: rustRuntime },
      },
    });
    try {
      const types = new Set((await conductor.nodeTypes()).map((entry) => entry.nodeType.type));
      // Python → Rust → TypeScript when the Rust runtime serves the scaling node; Python → TypeScript otherwise.
      const withRust = types.has("rs.scale-batches");
      const factor = withRust ? 2 : 1;
      const pipeline = await conductor.prepare({
        conductor: "blueprint/v1",
        inputs: { rows: {}, batchRows: {} },
        nodes: {
          batches: { type: "py.batches", inputs: { rows: "inputs.rows", batchRows: "inputs.batchRows" } },
          ...(withRust
            ? {
                scale: {
                  type: "rs.scale-batches",
                  inputs: { batches: "batches.batches", factor: { value: 2 } },
                },
                stats: { type: "bench.batch-stats", inputs: { batches: "scale.batches" } },
              }
            : { stats: { type: "bench.batch-stats", inputs: { batches: "batches.batches" } } }),
        },
        outputs: { rows: "stats.rows", sum: "stats.sum" },
      });
      const path = withRust ? "Python → Rust → TypeScript" : "Python → TypeScript (no Rust stage)";
      // Warm both runtimes and the pipeline once.
      await pipeline.run({ rows: batchRows, batchRows });
      const floor = await floorRun(rows, batchRows);

      const startedAt = performance.now();
      const result = await pipeline.run({ rows, batchRows });
      const ms = performance.now() - startedAt;
      const expectedSum = (factor * rows * (rows - 1)) / 2;
      if (
        result.status !== "completed" ||
        result.outputs.rows !== rows ||
        result.outputs.sum !== expectedSum
      ) {
        throw new Error(
          `the stream arrived changed: ${result.status} ${JSON.stringify(result.outputs)}, expected ${rows} rows summing to ${expectedSum}`,
        );
      }
      const firstMs = firstBatchAt - startedAt;
      const host = await hostRss(rows, batchRows, withRust);
      if (!host.out.includes(String(rows)))
        throw new Error(`conductor run gave ${host.out}, expected ${rows} rows`);
      const mb = floor.bytes / 1e6;

      // One item's hop (Python → TypeScript reader) against one node dispatch to Python.
      const hop = await conductor.prepare({
        conductor: "blueprint/v1",
        inputs: { n: {} },
        nodes: {
          count: { type: "conformance.count", inputs: { n: "inputs.n" } },
          read: { type: "bench.count-items", inputs: { items: "count.items" } },
        },
        outputs: { count: "read.count" },
      });
      const items = context.smoke ? 2_000 : 50_000;
      const check = await hop.run({ n: items });
      if (check.outputs.count !== items)
        throw new Error(`the hop pipeline read ${String(check.outputs.count)}`);
      const streamed = await timeSequential(() => hop.run({ n: items }), {
        warmup: 1,
        iterations: context.smoke ? 3 : 9,
      });
      const dispatch = await conductor.prepare({
        conductor: "blueprint/v1",
        nodes: { add: { type: "conformance.add", inputs: { a: { value: 1 }, b: { value: 2 } } } },
      });
      const dispatched = await timeSequential(() => dispatch.run({}), {
        warmup: context.iterations(50),
        iterations: context.iterations(500),
      });
      const empty = await timeSequential(() => hop.run({ n: 0 }), {
        warmup: context.iterations(20),
        iterations: context.iterations(200),
      });
      const perItem = Math.max(0.001, (streamed.median - empty.median) / items);

      const results: BenchResult[] = [
        {
          id: "stream-cross-rows",
          what: `${rows.toLocaleString("en-US")} rows as Arrow batches of ${batchRows.toLocaleString("en-US")}, ${path}, rows/s`,
          value: rows / (ms / 1000),
          unit: "rows/s",
          floor: {
            what: "Arrow IPC over a raw Unix socket, Python → Python (pyarrow both ends)",
            value: floor.rows / (floor.ms / 1000),
          },
          ratio: floor.rows / (floor.ms / 1000) / (rows / (ms / 1000)),
          target: "reported (floor ÷ ours)",
        },
        {
          id: "stream-cross-mb",
          what: `the same in MB/s (${mb.toFixed(1)} MB of Arrow IPC)`,
          value: mb / (ms / 1000),
          unit: "MB/s",
          floor: { what: "Arrow IPC over a raw Unix socket", value: mb / (floor.ms / 1000) },
          ratio: mb / (floor.ms / 1000) / (mb / (ms / 1000)),
          target: "reported (floor ÷ ours)",
        },
        againstTarget(
          "stream-cross-rss",
          `RSS of the host (\`conductor run\`) at its peak over the same ${rows.toLocaleString("en-US")} rows`,
          host.peakMb,
          "MB",
          200,
        ),
        {
          id: "stream-cross-first",
          what: `execution start to the first batch in TypeScript, ${path}`,
          value: firstMs,
          unit: "ms",
          floor: { what: "connection to the first batch, raw Arrow IPC", value: floor.firstMs },
          ratio: firstMs / floor.firstMs,
          target: "reported",
        },
        againstFloor(
          "stream-cross-hop",
          "one stream item from Python to a TypeScript reader (credit window 64)",
          perItem,
          { what: "one node dispatch to Python (1-node execution)", value: dispatched.median },
          1,
        ),
      ];
      return results;
    } finally {
      await conductor.close();
    }
  },
};
