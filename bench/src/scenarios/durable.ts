import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Conductor, createConductor } from "@conductor/host";
import { allBenchNodes } from "../bench-nodes.js";
import { chain } from "../blueprints.js";
import { timeSequential } from "../stats.js";
import type { BenchResult, Scenario } from "./index.js";

async function journaled(dir: string): Promise<Conductor> {
  return createConductor({
    builtinNodes: true,
    nodes: allBenchNodes,
    journal: join(dir, "journal.db"),
    project: { dir, blueprints: [], nodes: [], runtimes: {} },
  });
}

async function inMemory(dir: string): Promise<Conductor> {
  return createConductor({
    builtinNodes: true,
    nodes: allBenchNodes,
    store: false,
    project: { dir, blueprints: [], nodes: [], runtimes: {} },
  });
}

/** Time per execution of `concurrency` executions kept in flight, in microseconds. */
async function throughput(run: () => Promise<unknown>, total: number, concurrency: number): Promise<number> {
  let started = 0;
  const startedAt = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < total) {
        started++;
        await run();
      }
    }),
  );
  return ((performance.now() - startedAt) * 1000) / total;
}

/** The journal's cost, and how scheduling scales with the size of a blueprint. */
export const durableScenarios: Scenario[] = [
  {
    id: "journal",
    title: "journaling cost on a 10-node chain",
    async run(context) {
      const dir = await mkdtemp(join(tmpdir(), "bench-journal-"));
      const memory = await inMemory(dir);
      const durable = await journaled(dir);
      try {
        const memoryChain = await memory.prepare(chain(10));
        const durableChain = await durable.prepare(chain(10));
        const iterations = { warmup: context.iterations(1_000), iterations: context.iterations(10_000) };
        const base = await timeSequential(() => memoryChain.run({ x: 0 }), iterations);
        const journal = await timeSequential(() => durableChain.run({ x: 0 }), iterations);
        const total = context.smoke ? 200 : 20_000;
        const baseBatched = await throughput(() => memoryChain.run({ x: 0 }), total, 32);
        const journalBatched = await throughput(() => durableChain.run({ x: 0 }), total, 32);
        const sequential: BenchResult = {
          id: "journal-sequential",
          what: "10-node chain, journaled, one execution at a time (latency incl. the final commit)",
          value: journal.median,
          unit: "µs",
          floor: { what: "same, in memory", value: base.median },
          ratio: journal.median / base.median,
          target: "≤ 2× in memory",
          met: journal.median <= 2 * base.median,
          ...(journal.median <= 2 * base.median
            ? {}
            : { missedBy: `${(journal.median / base.median / 2).toFixed(2)}×` }),
        };
        const batched: BenchResult = {
          id: "journal-batched",
          what: "10-node chain, journaled, 32 executions in flight (time per execution; commits batched)",
          value: journalBatched,
          unit: "µs",
          floor: { what: "same, in memory", value: baseBatched },
          ratio: journalBatched / baseBatched,
          target: "≤ 2× in memory",
          met: journalBatched <= 2 * baseBatched,
          ...(journalBatched <= 2 * baseBatched
            ? {}
            : { missedBy: `${(journalBatched / baseBatched / 2).toFixed(2)}×` }),
        };
        return [sequential, batched];
      } finally {
        await memory.close();
        await durable.close();
        await rm(dir, { recursive: true, force: true });
      }
    },
  },
  {
    id: "scale",
    title: "scheduling overhead of 1,000- and 10,000-node blueprints",
    async run(context) {
      const dir = await mkdtemp(join(tmpdir(), "bench-scale-"));
      const conductor = await inMemory(dir);
      try {
        const perNode: number[] = [];
        for (const size of [1_000, 10_000]) {
          const prepared = await conductor.prepare(chain(size));
          const summary = await timeSequential(() => prepared.run({ x: 0 }), {
            warmup: context.smoke ? 1 : 5,
            iterations: context.smoke ? 2 : 20,
          });
          perNode.push(summary.median / size);
        }
        const ratio = perNode[1]! / perNode[0]!;
        return [
          {
            id: "scale-1k",
            what: "1,000-node chain, in-process, per node",
            value: perNode[0]!,
            unit: "µs",
            target: "reported",
          },
          {
            id: "scale-10k",
            what: "10,000-node chain, in-process, per node",
            value: perNode[1]!,
            unit: "µs",
            target: "reported",
          },
          {
            id: "scale-ratio",
            what: "per-node cost, 10k-node / 1k-node blueprint (1.0 = linear growth)",
            value: ratio,
            unit: "×",
            target: "≈ 1 (≤ 1.5)",
            met: ratio <= 1.5,
          },
        ];
      } finally {
        await conductor.close();
        await rm(dir, { recursive: true, force: true });
      }
    },
  },
  {
    id: "map-1000",
    title: "a 1,000-item map over a trivial node in each runtime",
    async run(context) {
      const { pythonRuntime, rustRuntime } = await import("../runtimes.js");
      const { benchNodesModule } = await import("../bench-conductor.js");
      const dir = await mkdtemp(join(tmpdir(), "bench-map-"));
      const conductor = await createConductor({
        builtinNodes: true,
        nodes: allBenchNodes,
        store: false,
        project: {
          dir,
          blueprints: [],
          nodes: [],
          runtimes: {
            node: { kind: "node", modules: [benchNodesModule] },
            python: pythonRuntime,
            rust: rustRuntime,
          },
        },
      });
      try {
        await conductor.nodeTypes();
        const results: BenchResult[] = [];
        const targets: [string, string, string, string][] = [
          ["in-process", "bench.increment", "builtin", "x"],
          ["node sidecar", "bench.increment", "node", "x"],
          ["python", "bench.py-increment", "python", "x"],
          ["rust", "rs.add-one", "rust", "y"],
        ];
        for (const [label, type, runtime, outPort] of targets) {
          const prepared = await conductor.prepare({
            conductor: "blueprint/v1",
            nodes: {
              items: { type: "core.constant", config: { value: Array.from({ length: 1_000 }, (_, i) => i) } },
              each: { type, runtime, map: { over: "x", concurrency: 64 }, inputs: { x: "items.value" } },
            },
            outputs: { xs: `each.${outPort}` },
          });
          const summary = await timeSequential(() => prepared.run(), {
            warmup: 1,
            iterations: context.smoke ? 1 : 5,
          });
          results.push({
            id: `map-1000-${runtime}`,
            what: `1,000-item map, ${label}, wall`,
            value: summary.median / 1000,
            unit: "ms",
            target: "reported",
          });
        }
        return results;
      } finally {
        await conductor.close();
        await rm(dir, { recursive: true, force: true });
      }
    },
  },
];
