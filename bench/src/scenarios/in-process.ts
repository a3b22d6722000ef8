import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { benchConductor } from "../bench-conductor.js";
import { chain, fanOut, setChain } from "../blueprints.js";
import { summarize, timeSequential } from "../stats.js";
import { againstFloor, againstTarget, type Scenario } from "./index.js";

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
    id: "inproc-set-chain",
    title:
      "a 100-node chain of Set-like nodes with checked ports against the same chain with permissive ports",
    async run(context) {
      const conductor = await benchConductor();
      try {
        const checked = await conductor.prepare(setChain(100, "bench.set-field"));
        const unchecked = await conductor.prepare(setChain(100, "bench.set-field-unchecked"));
        for (const prepared of [checked, unchecked]) {
          const result = await prepared.run({ item: { id: 1 } });
          const fields = Object.keys(result.outputs.item as object).length;
          if (fields !== 101)
            throw new Error(`the set chain gave an object of ${fields} fields, expected 101`);
        }
        // Alternating rounds, so both chains see the same machine state (a shared 2-core machine drifts).
        const rounds = context.smoke ? 3 : 40;
        const perRound = context.iterations(200);
        const samples: [number[], number[]] = [[], []];
        for (let round = 0; round < rounds; round++) {
          for (const [which, prepared] of [checked, unchecked].entries()) {
            const summary = await timeSequential(() => prepared.run({ item: { id: 1 } }), {
              warmup: round === 0 ? perRound : 0,
              iterations: perRound,
            });
            samples[which]!.push(summary.median);
          }
        }
        return [
          againstFloor(
            "inproc-set-chain-100",
            "100-node chain of Set-like nodes with checked ports (zod records), per execution",
            summarize(samples[0]).median,
            { what: "same chain, permissive ports", value: summarize(samples[1]).median },
            1.3,
          ),
        ];
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
