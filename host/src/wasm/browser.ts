/**
 * The wasm runtime for a browser page: the same runtime as the Node host's (`wasm-runtime.ts`, `wasm-call.ts`),
 * with its calls in Web Workers instead of worker threads. No Node built-in is reachable from here, which
 * `browser-bundle.test.ts` proves by bundling it for the browser.
 */
import { capMemory, WASM_PAGE_BYTES } from "./memory-cap.js";
import { createWorkerPoolExecutor, type WasmExecutor, type WorkerAnswer } from "./wasm-executor.js";
import type { WasmGrant } from "./wasm-imports.js";
import { parseWasmManifest } from "./wasm-manifest.js";
import { createWasmRuntime, type LoadedWasmModule } from "./wasm-runtime.js";

export { serveWasmCalls, type WorkerRequest } from "./wasm-executor.js";
export { createWasmRuntime, type LoadedWasmModule } from "./wasm-runtime.js";

/** Compiles a module with its cap, from its bytes and its manifest's text (fetched by the page). */
export async function loadWasmModule(options: {
  name: string;
  bytes: Uint8Array;
  manifest: string;
  memoryMb?: number;
  grant?: WasmGrant[];
}): Promise<LoadedWasmModule> {
  const capPages = Math.floor(((options.memoryMb ?? 64) * 1_048_576) / WASM_PAGE_BYTES);
  const nodeTypes = parseWasmManifest(options.manifest, `${options.name.replace(/\.wasm$/, "")}.nodes.json`);
  const capped = capMemory(options.bytes, capPages);
  const module = await WebAssembly.compile(capped.bytes as Uint8Array<ArrayBuffer>);
  return {
    nodeTypes,
    plan: {
      name: options.name,
      module,
      maximumPages: capped.maximumPages || capPages,
      ...(capped.memoryImport === undefined ? {} : { memoryImport: capped.memoryImport }),
      grants: options.grant ?? [],
      reusable: capped.mutableGlobals <= 1,
    },
  };
}

/** The Web Worker a page starts, as the platform gives it (`new Worker(url, { type: "module" })`). */
export interface WebWorkerLike {
  postMessage(message: unknown): void;
  terminate(): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: { message?: string }) => void) | null;
}

/** Runs calls in Web Workers made by `createWorker`; a call past its time limit terminates its worker. */
export function createWebWorkerExecutor(createWorker: () => WebWorkerLike, size = 2): WasmExecutor {
  return createWorkerPoolExecutor({
    size,
    spawn(onAnswer, onError) {
      const worker = createWorker();
      worker.onmessage = (event) => onAnswer(event.data as WorkerAnswer);
      worker.onerror = (event) => onError(new Error(event.message ?? "the worker failed"));
      return {
        post: (request) => worker.postMessage(request),
        terminate: () => worker.terminate(),
      };
    },
  });
}

/** A wasm runtime for a page. */
export function createBrowserWasmRuntime(options: {
  name?: string;
  modules: LoadedWasmModule[];
  createWorker: () => WebWorkerLike;
  timeLimitMs?: number;
  maxConcurrency?: number;
}) {
  const maxConcurrency = options.maxConcurrency ?? 2;
  return createWasmRuntime({
    name: options.name ?? "wasm",
    modules: options.modules,
    executor: createWebWorkerExecutor(options.createWorker, maxConcurrency),
    timeLimitMs: options.timeLimitMs ?? 30_000,
    maxConcurrency,
  });
}
