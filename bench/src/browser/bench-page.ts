/**
 * The page of the browser benchmarks (bench/src/scenarios/browser.ts), bundled by scripts/browser-build.mjs: the
 * engine in the page with the benchmarks' trivial TypeScript node and the C increment in a Web Worker, timing
 * prepared blueprints as the host's benchmarks do.
 */
import {
  createBrowserEngine,
  createBrowserWasmRuntime,
  loadWasmModule,
  type WebWorkerLike,
} from "@conductor/host/browser";
import { increment } from "../bench-nodes.js";
import { chain } from "../blueprints.js";

/** The browser's Worker constructor (the benchmarks compile without the DOM's types). */
declare const Worker: new (url: string, options: { type: "module" }) => WebWorkerLike;

const [bytes, manifest] = await Promise.all([
  fetch("/increment.wasm").then(async (response) => new Uint8Array(await response.arrayBuffer())),
  fetch("/increment.nodes.json").then((response) => response.text()),
]);
const engine = createBrowserEngine({
  nodes: [increment],
  builtinNodes: false,
  runtimes: [
    createBrowserWasmRuntime({
      modules: [await loadWasmModule({ name: "increment.wasm", bytes, manifest })],
      createWorker: () => new Worker("/worker.js", { type: "module" }),
      maxConcurrency: 2,
    }),
  ],
  // As the host's benchmarks run: no history recorded, the engine alone.
  journal: false,
});

const blueprints = {
  "wasm-one": {
    conductor: "blueprint/v1" as const,
    nodes: { n: { type: "c.increment", inputs: { x: "inputs.x" } } },
    inputs: { x: { schema: { type: "number" } } },
    outputs: { x: "n.x" },
  },
  "typescript-one": {
    conductor: "blueprint/v1" as const,
    nodes: { n: { type: "bench.increment", inputs: { x: "inputs.x" } } },
    inputs: { x: { schema: { type: "number" } } },
    outputs: { x: "n.x" },
  },
  "chain-10": chain(10),
};

/**
 * Runs a blueprint `iterations` times one after the other, `rounds` times, and gives each round's time per
 * execution in µs: whole rounds are timed because a page's clock is coarse (100 µs without cross-origin isolation).
 */
async function time(name: keyof typeof blueprints, warmup: number, iterations: number): Promise<number> {
  const prepared = await engine.prepare(blueprints[name]);
  const expected = name === "chain-10" ? 11 : 2;
  const check = await prepared.run({ x: 1 });
  if (check.outputs.x !== expected)
    throw new Error(`${name} gave ${String(check.outputs.x)} in the page, expected ${expected}`);
  for (let i = 0; i < warmup; i++) await prepared.run({ x: 1 });
  const started = performance.now();
  for (let i = 0; i < iterations; i++) await prepared.run({ x: 1 });
  return ((performance.now() - started) * 1000) / iterations;
}

Object.assign(globalThis, { bench: { ready: true, time } });
