import type { BlueprintDocument } from "@conductor/host";
import { benchConductor } from "../bench-conductor.js";
import { chain } from "../blueprints.js";
import { timeSequential } from "../stats.js";
import { againstFloor, againstTarget, type Scenario } from "./index.js";

function streamPipeline(): BlueprintDocument {
  return {
    conductor: "blueprint/v1",
    inputs: { count: {} },
    nodes: {
      produce: { type: "bench.stream-numbers", inputs: { count: "inputs.count" } },
      read: { type: "bench.stream-sum", inputs: { items: "produce.items" } },
    },
    outputs: { count: "read.count", sum: "read.sum" },
  };
}

/**
 * Streams between in-process nodes (docs/streaming.md): the cost of one item's hop from a producer to its reader
 * through the host's credit-paced channel, against the cost of one node dispatch measured in the same run (a
 * 100-node chain of trivial nodes, per node); and the host's resident memory while a long stream flows, which the
 * credits must keep flat (10^6 items in a full run, 10^4 in a smoke run).
 *
 * Streams across processes (Arrow batches Python → Rust → TypeScript, against Arrow IPC over a raw Unix socket) are
 * not measured: no child runtime serves stream ports yet.
 */
export const streamingScenario: Scenario = {
  id: "stream",
  title: "streams between in-process nodes: one item's hop vs one node dispatch; host RSS over a long stream",
  async run(context) {
    const conductor = await benchConductor();
    try {
      const pipeline = await conductor.prepare(streamPipeline());
      const items = context.smoke ? 2_000 : 100_000;
      const check = await pipeline.run({ count: items });
      if (check.outputs.count !== items) {
        throw new Error(`the stream pipeline read ${String(check.outputs.count)} items, expected ${items}`);
      }
      const streamed = await timeSequential(() => pipeline.run({ count: items }), {
        warmup: context.smoke ? 1 : 3,
        iterations: context.smoke ? 3 : 15,
      });
      const empty = await timeSequential(() => pipeline.run({ count: 0 }), {
        warmup: context.iterations(200),
        iterations: context.iterations(2_000),
      });
      const perItem = Math.max(0.001, (streamed.median - empty.median) / items);

      const dispatchChain = await conductor.prepare(chain(100));
      const dispatched = await timeSequential(() => dispatchChain.run({ x: 0 }), {
        warmup: context.iterations(500),
        iterations: context.iterations(5_000),
      });
      const perNode = dispatched.median / 100;

      const longCount = context.smoke ? 10_000 : 1_000_000;
      let peak = process.memoryUsage().rss;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 5);
      let long: Awaited<ReturnType<typeof pipeline.run>>;
      try {
        long = await pipeline.run({ count: longCount });
      } finally {
        clearInterval(sampler);
      }
      peak = Math.max(peak, process.memoryUsage().rss);
      if (long.outputs.count !== longCount) {
        throw new Error(`the long stream read ${String(long.outputs.count)} items, expected ${longCount}`);
      }
      return [
        againstFloor(
          "stream-hop",
          "one stream item from producer to reader, in-process (credit window 64)",
          perItem,
          { what: "one node dispatch in a 100-node in-process chain", value: perNode },
          1,
        ),
        againstTarget(
          "stream-rss",
          `host RSS at its peak while ${longCount} items stream between two nodes`,
          peak / 1024 / 1024,
          "MB",
          200,
        ),
      ];
    } finally {
      await conductor.close();
    }
  },
};
