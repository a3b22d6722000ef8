import { fileURLToPath } from "node:url";
import { type Conductor, createConductor, type RuntimeSpec } from "@conductor/host";
import { defineNode, values } from "@conductor/sdk";
import { z } from "zod";
import { increment } from "../bench-nodes.js";
import { crc32 } from "../crc32.js";
import { rustRuntime } from "../runtimes.js";
import { summarize, timeSequential } from "../stats.js";
import { againstFloor, type BenchResult, type Scenario } from "./index.js";

const repo = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));

/** The example wasm modules (built by scripts/setup-wasm.sh), with room for a 64 MB input. */
const wasmRuntime: RuntimeSpec = {
  kind: "wasm",
  modules: [repo("examples/wasm/nodes/increment.wasm"), repo("examples/wasm/nodes/checksum.wasm")],
  memoryMb: 256,
  timeLimitMs: 60_000,
};

const crc32Node = defineNode({
  type: "bench.crc32",
  input: { data: values.bytes() },
  output: { crc32: z.number().int(), size: z.number().int() },
  run: ({ data }) => ({ crc32: crc32(data), size: data.length }),
});

/** The same buffer every time (made once per size), so that the blueprint measures the checksum, not the input. */
const buffers = new Map<number, Uint8Array>();
function patternBuffer(size: number): Uint8Array {
  let data = buffers.get(size);
  if (data === undefined) {
    data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = (i * 2_654_435_761) >>> 24;
    buffers.set(size, data);
  }
  return data;
}

const bufferNode = defineNode({
  type: "bench.buffer",
  config: z.object({ size: z.number().int().positive() }),
  input: {},
  output: { data: values.bytes() },
  run: (_, ctx) => ({ data: patternBuffer(ctx.config.size) }),
});

function wasmConductor(runtimes: Record<string, RuntimeSpec>): Promise<Conductor> {
  return createConductor({
    nodes: [increment, crc32Node, bufferNode],
    store: false,
    cache: false,
    project: { dir: process.cwd(), blueprints: [], nodes: [], runtimes },
  });
}

/** WebAssembly nodes against TypeScript nodes in the host and native Rust nodes in the Rust runtime. */
export const wasmScenarios: Scenario[] = [
  {
    id: "wasm-call",
    title: "a one-node blueprint of a C WebAssembly node against the same of an in-process TypeScript node",
    async run(context) {
      const conductor = await wasmConductor({ wasm: wasmRuntime });
      try {
        const one = (type: string) =>
          conductor.prepare({
            conductor: "blueprint/v1",
            nodes: { n: { type, inputs: { x: "inputs.x" } } },
            inputs: { x: { schema: { type: "number" } } },
            outputs: { x: "n.x" },
          });
        const wasm = await one("c.increment");
        const typescript = await one("bench.increment");
        for (const prepared of [wasm, typescript]) {
          const result = await prepared.run({ x: 41 });
          if (result.outputs.x !== 42) throw new Error(`increment of 41 gave ${String(result.outputs.x)}`);
        }
        // Alternating rounds, so both see the same machine state.
        const samples: [number[], number[]] = [[], []];
        for (let round = 0; round < (context.smoke ? 2 : 10); round++) {
          for (const [which, prepared] of [wasm, typescript].entries()) {
            const summary = await timeSequential(() => prepared.run({ x: 1 }), {
              warmup: context.iterations(200),
              iterations: context.iterations(1_000),
            });
            samples[which]!.push(summary.median);
          }
        }
        return [
          againstFloor(
            "wasm-call-node",
            "one-node blueprint, C node in WebAssembly (a call in a worker thread), per execution",
            summarize(samples[0]).median,
            { what: "same blueprint, TypeScript node in-process", value: summarize(samples[1]).median },
            // A call crosses to a worker thread and back, with its request and answer as JSON: budgeted at 10× a node
            // that runs in the host's own thread.
            10,
          ),
        ];
      } finally {
        await conductor.close();
      }
    },
  },
  {
    id: "wasm-checksum",
    title: "CRC-32 over 64 MB: C++ in WebAssembly, TypeScript in-process, native Rust in the Rust runtime",
    async run(context) {
      const size = context.smoke ? 4 * 1_048_576 : 64 * 1_048_576;
      const expected = crc32(patternBuffer(size));
      const conductor = await wasmConductor({ wasm: wasmRuntime, rust: rustRuntime });
      try {
        const results: BenchResult[] = [];
        // Because a blueprint input is checked and recorded as JSON, the buffer comes from a node instead.
        const one = (type: string) =>
          conductor.prepare({
            conductor: "blueprint/v1",
            nodes: {
              buffer: { type: "bench.buffer", config: { size } },
              n: { type, inputs: { data: "buffer.data" } },
            },
            outputs: { crc32: "n.crc32" },
          });
        const forms = [
          ["C++ in WebAssembly", await one("cpp.crc32")],
          ["TypeScript in-process", await one("bench.crc32")],
          ["native Rust in the Rust runtime", await one("rs.crc32")],
        ] as const;
        for (const [what, prepared] of forms) {
          const result = await prepared.run({});
          if (result.outputs.crc32 !== expected)
            throw new Error(`${what} gave CRC-32 ${String(result.outputs.crc32)}, expected ${expected}`);
        }
        const samples: number[][] = [[], [], []];
        for (let round = 0; round < (context.smoke ? 1 : 5); round++) {
          for (const [which, [, prepared]] of forms.entries()) {
            const summary = await timeSequential(() => prepared.run({}), {
              warmup: 1,
              iterations: context.smoke ? 1 : 4,
            });
            samples[which]!.push(summary.median);
          }
        }
        const [wasm, typescript, rust] = samples.map((list) => summarize(list).median) as [
          number,
          number,
          number,
        ];
        const mb = size / 1_048_576;
        results.push(
          againstFloor(
            "wasm-checksum-cpp",
            `CRC-32 of ${mb} MB, C++ in WebAssembly (input copied to a worker thread and into the instance)`,
            wasm,
            { what: `same in TypeScript, in-process`, value: typescript },
            1,
          ),
          againstFloor(
            "wasm-checksum-rust",
            `CRC-32 of ${mb} MB, native Rust in the Rust runtime (input sent as a blob)`,
            rust,
            { what: `same in TypeScript, in-process`, value: typescript },
            1,
          ),
        );
        return results;
      } finally {
        await conductor.close();
      }
    },
  },
];
