import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { benchConductor } from "../bench-conductor.js";
import { chain, fanOut } from "../blueprints.js";
import { timeSequential } from "../stats.js";
import { againstTarget, type Scenario } from "./index.js";

/** Blueprints of trivial in-process nodes: what the engine itself costs. */
export const inProcessScenarios: Scenario[] = [
  {
    id: "inproc-chain",
    title: "chains of trivial in-process nodes",
    async run(context) {
      const conductor = await benchConductor();
      try {
        const results = [];
        for (const [length, target] of [
          [10, 30],
          [100, 300],
        ] as const) {
          const prepared = await conductor.prepare(chain(length));
          const check = await prepared.run({ x: 0 });
          if (check.outputs.x !== length)
            throw new Error(`chain of ${length} gave ${String(check.outputs.x)}`);
          const summary = await timeSequential(() => prepared.run({ x: 0 }), {
            warmup: context.iterations(2_000),
            iterations: context.iterations(20_000),
          });
          results.push(
            againstTarget(
              `inproc-chain-${length}`,
              `${length}-node chain, in-process, per execution`,
              summary.median,
              "µs",
              target,
            ),
          );
        }
        return results;
      } finally {
        await conductor.close();
      }
    },
  },
  {
    id: "inproc-fanout",
    title: "20-way fan-out of 10 ms nodes",
    async run(context) {
      const conductor = await benchConductor();
      try {
        const prepared = await conductor.prepare(fanOut(20, 10));
        const summary = await timeSequential(() => prepared.run(), {
          warmup: context.iterations(20),
          iterations: context.iterations(200),
        });
        return [
          againstTarget(
            "inproc-fanout",
            "20-way fan-out of 10 ms nodes, wall time (ideal 10 ms)",
            summary.median / 1000,
            "ms",
            15,
          ),
        ];
      } finally {
        await conductor.close();
      }
    },
  },
  {
    id: "inproc-heap",
    title: "heap growth over many executions",
    async run(context) {
      setFlagsFromString("--expose-gc");
      const gc = runInNewContext("gc") as () => void;
      const conductor = await benchConductor();
      try {
        const prepared = await conductor.prepare(chain(10));
        for (let i = 0; i < 1_000; i++) await prepared.run({ x: 0 });
        gc();
        gc();
        const before = process.memoryUsage().heapUsed;
        const runs = context.smoke ? 1_000 : 10_000;
        for (let i = 0; i < runs; i++) await prepared.run({ x: 0 });
        gc();
        gc();
        const growth = Math.max(0.001, (process.memoryUsage().heapUsed - before) / runs / 1024);
        return [
          againstTarget(
            "inproc-heap",
            `heap growth per 10-node execution over ${runs} runs`,
            growth,
            "KB",
            100,
          ),
        ];
      } finally {
        await conductor.close();
      }
    },
  },
];
