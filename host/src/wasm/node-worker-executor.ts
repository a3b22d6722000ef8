import { join } from "node:path";
import { MessageChannel, receiveMessageOnPort, Worker } from "node:worker_threads";
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
 * run a call. Requests and answers are woken with `Atomics` on a shared counter rather than by the event loops
 * (see wasm-worker.ts).
 */
export function createNodeWorkerExecutor(options: NodeWorkerExecutorOptions = {}): WasmExecutor {
  // The compiled worker, as for the blueprint parser: the sources run under vitest, the worker always from dist.
  const script = join(hostPackageDir(), "dist", "wasm", "wasm-worker.js");
  return createWorkerPoolExecutor({
    size: options.size ?? 2,
    spawn(onAnswer, onError) {
      // signal[0] counts requests, signal[1] answers; messages travel on the channel (wasm-worker.ts says why).
      const signal = new Int32Array(new SharedArrayBuffer(8));
      const channel = new MessageChannel();
      const worker = new Worker(script, {
        workerData: { signal, port: channel.port2 },
        transferList: [channel.port2],
      });
      worker.unref();
      let outstanding = 0;
      let answers = 0;
      let watching = false;
      let stopped = false;
      const take = () => {
        watching = false;
        if (stopped) return;
        answers = Atomics.load(signal, 1);
        for (
          let message = receiveMessageOnPort(channel.port1);
          message !== undefined;
          message = receiveMessageOnPort(channel.port1)
        ) {
          // Idle, the worker does not hold the process open.
          if (--outstanding === 0) worker.unref();
          onAnswer(message.message as WorkerAnswer);
        }
        watch();
      };
      const watch = () => {
        if (watching || stopped || outstanding === 0) return;
        watching = true;
        const waited = Atomics.waitAsync(signal, 1, answers);
        if (waited.async) void waited.value.then(take);
        else take();
      };
      worker.on("error", onError);
      worker.on("exit", (code) => onError(new Error(`exited with code ${code}`)));
      return {
        post(request) {
          channel.port1.postMessage(request);
          if (request.kind === "call" && outstanding++ === 0) worker.ref();
          Atomics.add(signal, 0, 1);
          Atomics.notify(signal, 0);
          watch();
        },
        terminate() {
          stopped = true;
          worker.removeAllListeners("exit");
          channel.port1.close();
          void worker.terminate();
        },
      };
    },
  });
}
