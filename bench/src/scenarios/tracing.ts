import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type BlueprintDocument,
  type Conductor,
  createConductor,
  createConductorMetrics,
  createTracing,
  type RuntimeSpec,
  type Tracing,
} from "@conductor/host";
import { benchNodesModule } from "../bench-conductor.js";
import { allBenchNodes } from "../bench-nodes.js";
import { chain } from "../blueprints.js";
import { pythonRuntime } from "../runtimes.js";
import { summarize, timeSequential } from "../stats.js";
import { againstFloor, type BenchResult, type Scenario } from "./index.js";

/**
 * The cost of telemetry (docs/telemetry.md): the same blueprints with tracing on (exporting over OTLP/HTTP to a
 * receiver in this process that discards what it gets) against tracing off, and with Prometheus metrics against
 * without, in alternating rounds of the same run so that both see the same machine.
 */
export const tracingScenario: Scenario = {
  id: "telemetry",
  title: "tracing on (exporting to a local OTLP receiver) and metrics, against both off",
  async run(context) {
    const receiver = createServer((request, response) => {
      request.resume();
      request.on("end", () => {
        response.writeHead(200, { "content-type": "application/x-protobuf" });
        response.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint;
    const tracing = await createTracing();
    const traced = { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint };
    const results: BenchResult[] = [];
    try {
      const cases: {
        id: string;
        what: string;
        blueprint: BlueprintDocument;
        runtimes: (on: boolean) => Record<string, RuntimeSpec>;
        maxRatio: number;
        iterations: number;
      }[] = [
        {
          id: "tracing-inproc-chain-10",
          what: "10-node in-process chain, tracing on, per execution",
          blueprint: chain(10),
          runtimes: () => ({}),
          maxRatio: 1.5,
          iterations: 500,
        },
        {
          id: "tracing-sidecar-dispatch",
          what: "1-node execution in the Node sidecar, tracing on",
          blueprint: chain(1, "node"),
          runtimes: (on) => ({
            node: { kind: "node", modules: [benchNodesModule], ...(on ? { env: traced } : {}) },
          }),
          maxRatio: 1.15,
          iterations: 300,
        },
        {
          id: "tracing-python-dispatch",
          what: "1-node execution in the Python runtime, tracing on",
          blueprint: single("bench.py-increment", "python"),
          runtimes: (on) => ({ python: { ...pythonRuntime, ...(on ? { env: traced } : {}) } }),
          maxRatio: 1.15,
          iterations: 300,
        },
      ];
      for (const item of cases) {
        const off = await conductorWith(item.runtimes(false), { tracing: false });
        const on = await conductorWith(item.runtimes(true), { tracing });
        try {
          const [offMedian, onMedian] = await alternate(context, [off, on], item.blueprint, item.iterations);
          results.push(
            againstFloor(
              item.id,
              item.what,
              onMedian,
              { what: "tracing off", value: offMedian },
              item.maxRatio,
            ),
          );
        } finally {
          await on.close();
          await off.close();
        }
      }
      const plain = await conductorWith({}, { tracing: false });
      const metered = await conductorWith({}, { tracing: false, metrics: true });
      try {
        const [plainMedian, meteredMedian] = await alternate(context, [plain, metered], chain(10), 500);
        results.push(
          againstFloor(
            "metrics-inproc-chain-10",
            "10-node in-process chain, Prometheus metrics on, per execution",
            meteredMedian,
            { what: "metrics off", value: plainMedian },
            1.05,
          ),
        );
      } finally {
        await metered.close();
        await plain.close();
      }
    } finally {
      await tracing.shutdown();
      delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
      receiver.closeAllConnections();
      await new Promise((resolve) => receiver.close(resolve));
    }
    return results;
  },
};

function single(type: string, runtime: string): BlueprintDocument {
  return {
    conductor: "blueprint/v1",
    inputs: { x: {} },
    outputs: { x: "n0.x" },
    nodes: { n0: { type, runtime, inputs: { x: "inputs.x" } } },
  };
}

function conductorWith(
  runtimes: Record<string, RuntimeSpec>,
  options: { tracing: Tracing | false; metrics?: boolean },
): Promise<Conductor> {
  return createConductor({
    builtinNodes: true,
    nodes: allBenchNodes,
    store: false,
    tracing: options.tracing,
    ...(options.metrics === true ? { metrics: createConductorMetrics() } : {}),
    project: { dir: process.cwd(), blueprints: [], nodes: [], runtimes },
  });
}

/** Medians (µs) of the same blueprint on each conductor, measured in alternating rounds. */
async function alternate(
  context: { smoke: boolean; iterations(full: number): number },
  conductors: [Conductor, Conductor],
  blueprint: BlueprintDocument,
  iterations: number,
): Promise<[number, number]> {
  const prepared = await Promise.all(conductors.map((conductor) => conductor.prepare(blueprint)));
  for (const each of prepared) {
    const result = await each.run({ x: 0 });
    if (result.status !== "completed") throw new Error(`the benchmark blueprint ${result.status}`);
  }
  const rounds = context.smoke ? 2 : 10;
  const perRound = context.iterations(iterations);
  const samples: [number[], number[]] = [[], []];
  for (let round = 0; round < rounds; round++) {
    for (const which of [0, 1] as const) {
      const summary = await timeSequential(() => prepared[which]!.run({ x: 0 }), {
        warmup: round === 0 ? perRound : 0,
        iterations: perRound,
      });
      samples[which].push(summary.median);
    }
  }
  return [summarize(samples[0]).median, summarize(samples[1]).median];
}
