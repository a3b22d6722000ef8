import type { BlueprintDocument, RuntimeSpec } from "@conductor/host";
import { benchConductor } from "../bench-conductor.js";
import { againstFloorInterleaved } from "../floor.js";
import { pythonRuntime, rustRuntime } from "../runtimes.js";
import { summarize, timeSequential } from "../stats.js";
import { againstFloor, againstTarget, type BenchContext, type BenchResult, type Scenario } from "./index.js";

/** A chain of `length` increment nodes on `runtime`; output `x` is `length`. */
function chainOf(bench: RuntimeBench, length: number): BlueprintDocument {
  const nodes: BlueprintDocument["nodes"] = {};
  for (let i = 0; i < length; i++) {
    nodes[`n${i}`] = {
      type: bench.increment,
      runtime: bench.name,
      inputs: { x: i === 0 ? { value: 0 } : `n${i - 1}.${bench.outPort}` },
    };
  }
  return { conductor: "blueprint/v1", nodes, outputs: { x: `n${length - 1}.${bench.outPort}` } };
}

interface RuntimeBench {
  name: "python" | "rust";
  spec: RuntimeSpec;
  increment: string;
  /** The increment node's output port (its input port is `x`). */
  outPort: string;
  dispatchMaxRatio: number;
  chainTargetUs: number;
  coldStartTargetMs: number;
}

const benches: RuntimeBench[] = [
  {
    name: "python",
    spec: pythonRuntime,
    increment: "bench.py-increment",
    outPort: "x",
    dispatchMaxRatio: 4,
    chainTargetUs: 1000,
    coldStartTargetMs: 400,
  },
  {
    name: "rust",
    spec: rustRuntime,
    increment: "rs.add-one",
    outPort: "y",
    dispatchMaxRatio: 2,
    chainTargetUs: 400,
    coldStartTargetMs: 50,
  },
];

async function runtimeBench(bench: RuntimeBench, context: BenchContext): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  // Cold start: a new runtime process each time, from spawn to handshake and node types listed.
  const starts: number[] = [];
  for (let i = 0; i < (context.smoke ? 2 : 10); i++) {
    const conductor = await benchConductor({ [bench.name]: bench.spec });
    const startedAt = performance.now();
    await conductor.nodeTypes();
    starts.push(performance.now() - startedAt);
    await conductor.close();
  }
  results.push(
    againstTarget(
      `${bench.name}-cold-start`,
      `${bench.name} runtime cold start (spawn → handshake → node types)`,
      summarize(starts).median,
      "ms",
      bench.coldStartTargetMs,
    ),
  );

  const conductor = await benchConductor({ [bench.name]: bench.spec });
  try {
    await conductor.nodeTypes();
    const iterations = { warmup: context.iterations(1_000), iterations: context.iterations(5_000) };
    const single = await conductor.prepare(chainOf(bench, 1));
    const check = await single.run();
    if (check.outputs.x !== 1)
      throw new Error(`${bench.name} dispatch gave ${JSON.stringify(check.outputs)}`);
    const measured = await againstFloorInterleaved(() => single.run(), iterations);
    const floor = { what: "raw UDS round trip", value: measured.floor.median };
    const dispatch = measured.operation;
    results.push(
      againstFloor(
        `${bench.name}-dispatch`,
        `per-node dispatch to the ${bench.name} runtime (1-node execution)`,
        dispatch.median,
        floor,
        bench.dispatchMaxRatio,
      ),
    );

    const ten = await conductor.prepare(chainOf(bench, 10));
    if ((await ten.run()).outputs.x !== 10) throw new Error(`${bench.name} chain gave a wrong result`);
    const chain = await timeSequential(() => ten.run(), iterations);
    results.push(
      againstTarget(
        `${bench.name}-chain-10`,
        `10-node chain of trivial ${bench.name} nodes`,
        chain.median,
        "µs",
        bench.chainTargetUs,
      ),
    );

    // Throughput with many invocations in flight: a map over items, 256 at a time.
    const items = context.smoke ? 200 : 20_000;
    const map = await conductor.prepare({
      conductor: "blueprint/v1",
      nodes: {
        items: { type: "core.constant", config: { value: Array.from({ length: items }, (_, i) => i) } },
        each: {
          type: bench.increment,
          runtime: bench.name,
          map: { over: "x", concurrency: 256 },
          inputs: { x: "items.value" },
        },
      },
      outputs: { xs: `each.${bench.outPort}` },
    });
    await map.run();
    const startedAt = performance.now();
    const mapped = await map.run();
    const seconds = (performance.now() - startedAt) / 1000;
    if ((mapped.outputs.xs as number[]).length !== items) throw new Error("map lost items");
    results.push({
      id: `${bench.name}-throughput`,
      what: `${bench.name}: trivial nodes per second, 256 in flight (map over ${items} items)`,
      value: Math.round(items / seconds),
      unit: "nodes/s",
      target: "reported",
    });
    return results;
  } finally {
    await conductor.close();
  }
}

/** The Python and Rust runtimes: cold start, dispatch against the floor, chains, throughput. */
export const runtimeScenarios: Scenario[] = benches.map((bench) => ({
  id: bench.name,
  title: `the ${bench.name} runtime`,
  run: (context) => runtimeBench(bench, context),
}));
