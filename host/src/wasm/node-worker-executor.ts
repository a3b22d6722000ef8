import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { hostPackageDir } from "../package-dir.js";
import { createWorkerPoolExecutor, type WasmExecutor, type WorkerAnswer } from "./wasm-executor.js";

/** Options of {@link createNodeWorkerExecutor}. */
export interface NodeWorkerExecutorOptions {
  /** Most worker threads, so most calls at once; default 2. */
  size?: number;
}

/**
 * Runs WebAssembly calls in worker threads of the host, so a module past its time limit is stopped by
 * `worker.terminate()` while the host and every other call go on. Workers hold the process open only while they
 * run a call.
 */
export function createNodeWorkerExecutor(options: NodeWorkerExecutorOptions = {}): WasmExecutor {
  // The compiled worker, as for the blueprint parser: the sources run under vitest, the worker always from dist.
  const script = join(hostPackageDir(), "dist", "wasm", "wasm-worker.js");
  return createWorkerPoolExecutor({
    size: options.size ?? 2,
    spawn(onAnswer, onError) {
      const worker = new Worker(script);
      worker.unref();
      worker.on("message", (answer: WorkerAnswer) => {
        worker.unref();
        onAnswer(answer);
      });
      worker.on("error", onError);
      worker.on("exit", (code) => onError(new Error(`exited with code ${code}`)));
      return {
        post(request) {
          if (request.kind === "call") worker.ref();
          worker.postMessage(request);
        },
        terminate() {
          worker.removeAllListeners("exit");
          void worker.terminate();
        },
      };
    },
  });
}
