import { spawn } from "node:child_process";
import { setImmediate } from "node:timers/promises";
import { fileURLToPath } from "node:url";
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
import { summarize } from "../stats.js";
import { againstFloor, type BenchResult, type Scenario } from "./index.js";

/**
 * The cost of telemetry (docs/telemetry.md): the same blueprints with tracing on (exporting over OTLP/HTTP to a
 * receiver in a child process, which counts the spans it gets) against tracing off, and with Prometheus metrics
 * against without, in alternating rounds of the same run so that both see the same machine. Each execution is
 * followed by a turn of the event loop (on both sides), as a server's requests are, so that the batch processor's
 * exports happen during the measurement: without it a loop of in-process executions never lets an export through,
 * the processor's queue fills and drops nearly every span, and tracing looks cheaper than it is. The benchmark
 * checks that the receiver got every span of the host. Two figures per in-process case: the median execution
 * (latency) and the host's CPU time per execution over each round, which includes the export (encoding and
 * sending) that the median leaves between executions.
 */
export const tracingScenario: Scenario = {
  id: "telemetry",
  title: "tracing on (exporting to a local OTLP receiver) and metrics, against both off",
  async run(context) {
    const sink = await startSink();
    // The host's tracing reads the endpoint from the environment when it is made (below); the runtime processes get
    // it through their spec's env, the traced side only, so the other side's runtime loads no OpenTelemetry SDK.
    // (Set in the host's environment for the whole run, it reached both sides' runtimes, which inherit it.)
    const traced = { OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint };
    const results: BenchResult[] = [];
    try {
      const cases: {
        id: string;
        what: string;
        blueprint: BlueprintDocument;
        runtimes: (on: boolean) => Record<string, RuntimeSpec>;
        maxRatio: number;
        iterations: number;
        /** Spans the host exports per execution (the execution's, execution.started, dispatches, attempts). */
        hostSpans: number;
        cpu: boolean;
      }[] = [
        {
          id: "tracing-inproc-chain-10",
          what: "10-node in-process chain, tracing on, per execution",
          blueprint: chain(10),
          runtimes: () => ({}),
          maxRatio: 1.5,
          iterations: 1000,
          hostSpans: 12,
          cpu: true,
        },
        {
          id: "tracing-sidecar-dispatch",
          what: "1-node execution in the Node sidecar, tracing on",
          blueprint: chain(1, "node"),
          runtimes: (on) => ({
            node: { kind: "node", modules: [benchNodesModule], ...(on ? { env: traced } : {}) },
          }),
          maxRatio: 1.15,
          iterations: 150,
          hostSpans: 4,
          cpu: false,
        },
        {
          id: "tracing-python-dispatch",
          what: "1-node execution in the Python runtime, tracing on",
          blueprint: single("bench.py-increment", "python"),
          runtimes: (on) => ({ python: { ...pythonRuntime, ...(on ? { env: traced } : {}) } }),
          maxRatio: 1.15,
          iterations: 150,
          hostSpans: 4,
          cpu: false,
        },
      ];
      // Metrics first, in a process that has not run traced executions yet: the scheduler's hook call sites, which
      // traced executions make polymorphic, stay as a server that keeps metrics alone has them.
      {
        const measured = await alternate(
          context,
          () =>
            Promise.all([
              conductorWith({}, { tracing: false }),
              conductorWith({}, { tracing: false, metrics: true }),
            ]),
          chain(10),
          1000,
          1,
        );
        results.push(
          againstFloor(
            "metrics-inproc-chain-10",
            "10-node in-process chain, Prometheus metrics on, per execution",
            measured.medians[1],
            { what: "metrics off", value: measured.medians[0] },
            1.05,
          ),
          againstFloor(
            "metrics-inproc-chain-10-cpu",
            "10-node in-process chain, Prometheus metrics on: host CPU time per execution",
            measured.cpu[1],
            { what: "metrics off", value: measured.cpu[0] },
            1.05,
          ),
        );
      }
      for (const item of cases) {
        // A tracing per case, shut down with it (closing a conductor only flushes a tracing it was given).
        process.env.OTEL_EXPORTER_OTLP_ENDPOINT = sink.endpoint;
        const tracing = await createTracing().finally(() => {
          delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
        });
        try {
          const before = (await sink.counts()).conductor ?? 0;
          const measured = await alternate(
            context,
            () =>
              Promise.all([
                conductorWith(item.runtimes(false), { tracing: false }),
                conductorWith(item.runtimes(true), { tracing }),
              ]),
            item.blueprint,
            item.iterations,
            Object.keys(item.runtimes(false)).length === 0 ? 1 : PAIRS_WITH_RUNTIMES,
          );
          await tracing.flush();
          const received = ((await sink.counts()).conductor ?? 0) - before;
          const expected = measured.runs[1] * item.hostSpans;
          if (received !== expected)
            throw new Error(
              `benchmark ${item.id}: the OTLP receiver got ${received} of the host's ${expected} spans; a run that drops spans does not measure tracing`,
            );
          results.push(
            againstFloor(
              item.id,
              item.what,
              measured.medians[1],
              { what: "tracing off", value: measured.medians[0] },
              item.maxRatio,
            ),
          );
          if (item.cpu)
            results.push(
              againstFloor(
                `${item.id}-cpu`,
                `${item.what}: host CPU time per execution, span export included`,
                measured.cpu[1],
                { what: "tracing off", value: measured.cpu[0] },
                item.maxRatio,
              ),
            );
        } finally {
          await tracing.shutdown();
        }
      }
    } finally {
      sink.close();
    }
    return results;
  },
};

/** The OTLP receiver in a child process (`otlp-sink-server.ts`). */
async function startSink(): Promise<{
  endpoint: string;
  counts(): Promise<Record<string, number>>;
  close(): void;
}> {
  const child = spawn(process.execPath, [fileURLToPath(new URL("../otlp-sink-server.js", import.meta.url))], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const port = await new Promise<string>((resolve) =>
    child.stdout.once("data", (chunk: Buffer) => resolve(chunk.toString().trim())),
  );
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    counts: async () => (await (await fetch(`${endpoint}/counts`)).json()) as Record<string, number>,
    close: () => child.stdin.end(),
  };
}

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

/**
 * The same blueprint on each conductor of a pair in alternating rounds: per side, the median over rounds of each
 * round's median execution (µs), the median over rounds of the process's CPU time per execution in the round
 * (µs; user and system, every thread), and how many executions it ran in all (warm-up included). Each execution is
 * followed by a turn of the event loop, outside the timed part. The rounds are run by `pairs` pairs of
 * conductors made by `pair` one after the other (each pair closed before the next is made), because two
 * conductors that are set up alike differ by up to ±6 % in a run on this shared machine (four identical conductors
 * with a Node sidecar each, measured in alternating rounds: 94-102 % of the first): their runtime processes and
 * their code's warm-up differ, and with one pair per run that difference counted as the cost of tracing.
 */
async function alternate(
  context: { smoke: boolean; iterations(full: number): number },
  pair: () => Promise<[Conductor, Conductor]>,
  blueprint: BlueprintDocument,
  iterations: number,
  pairs: number,
): Promise<{ medians: [number, number]; cpu: [number, number]; runs: [number, number] }> {
  const runs: [number, number] = [0, 0];
  // Many short rounds, in the order ABBA (then BAAB...), so that a change of load on the shared machine, and
  // whatever the first of a pair pays for the second, fall on both sides alike: two runs then agree within a few
  // percent where ten rounds in the order AB moved the ratios by ±0.1.
  const blocks = context.smoke ? 1 : pairs;
  const rounds = context.smoke ? 2 : ROUNDS / pairs;
  const perRound = context.iterations(iterations);
  const medians: [number[], number[]] = [[], []];
  const cpu: [number[], number[]] = [[], []];
  const samples = new Array<number>(perRound);
  for (let block = 0; block < blocks; block++) {
    const conductors = await pair();
    try {
      const prepared = await Promise.all(conductors.map((conductor) => conductor.prepare(blueprint)));
      for (const [which, each] of prepared.entries()) {
        const result = await each.run({ x: 0 });
        runs[which as 0 | 1]++;
        if (result.status !== "completed") throw new Error(`the benchmark blueprint ${result.status}`);
      }
      for (let round = 0; round < rounds; round++) {
        for (const which of round % 2 === 0 ? ([0, 1] as const) : ([1, 0] as const)) {
          const run = prepared[which]!;
          if (round === 0) {
            for (let i = 0; i < perRound; i++) {
              await run.run({ x: 0 });
              await setImmediate();
            }
            runs[which] += perRound;
          }
          const usage = process.cpuUsage();
          for (let i = 0; i < perRound; i++) {
            const started = performance.now();
            await run.run({ x: 0 });
            samples[i] = (performance.now() - started) * 1000;
            await setImmediate();
          }
          const used = process.cpuUsage(usage);
          runs[which] += perRound;
          medians[which].push(summarize(samples).median);
          cpu[which].push((used.user + used.system) / perRound);
        }
      }
    } finally {
      await conductors[1].close();
      await conductors[0].close();
    }
  }
  return {
    medians: [summarize(medians[0]).median, summarize(medians[1]).median],
    cpu: [summarize(cpu[0]).median, summarize(cpu[1]).median],
    runs,
  };
}

/** Rounds of each case, in all. */
const ROUNDS = 24;

/**
 * Pairs of conductors of a case whose conductors each have a runtime process, one after the other (see
 * {@link alternate}): 6 rounds per pair. A case in the host's process alone has one pair for its 24 rounds: its
 * two conductors share the process and its compiled code, and four pairs of them, each warmed anew, spread the metrics
 * row over 0.72-1.21x from one run to the next.
 */
const PAIRS_WITH_RUNTIMES = 4;
