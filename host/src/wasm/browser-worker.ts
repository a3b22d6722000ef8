/** The Web Worker a page runs WebAssembly calls in (browser.ts): the same code as the Node worker thread. */
import { serveWasmCalls, type WorkerRequest } from "./wasm-executor.js";

const scope = globalThis as unknown as {
  postMessage(message: unknown, transfer: ArrayBuffer[]): void;
  onmessage: ((event: { data: WorkerRequest }) => void) | null;
};
const serve = serveWasmCalls((answer, transfer) => scope.postMessage(answer, transfer));
scope.onmessage = (event) => serve(event.data);
