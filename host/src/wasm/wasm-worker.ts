import { type MessagePort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { serveWasmCalls, type WorkerRequest } from "./wasm-executor.js";

/**
 * The worker thread the Node host runs WebAssembly calls in (node-worker-executor.ts). Between calls it blocks in
 * `Atomics.wait` on a shared counter rather than waiting in its event loop for a message: the host posts a request
 * on the channel and bumps the counter, the worker wakes at once and takes the request with
 * `receiveMessageOnPort`; it answers the same way. Because a message's wake-up through both event loops cost
 * 50-250 µs on a loaded 2-core machine, and this one about 10 µs (docs/webassembly.md, "Call overhead").
 */
const { signal, port } = workerData as { signal: Int32Array; port: MessagePort };
const serve = serveWasmCalls((answer, transfer) => {
  port.postMessage(answer, transfer);
  Atomics.add(signal, 1, 1);
  Atomics.notify(signal, 1);
});

let seen = 0;
for (;;) {
  Atomics.wait(signal, 0, seen);
  seen = Atomics.load(signal, 0);
  for (let message = receiveMessageOnPort(port); message !== undefined; message = receiveMessageOnPort(port))
    // One at a time: a call's instantiation awaits tasks that a blocked thread would never run.
    await serve(message.message as WorkerRequest);
}
