import { parentPort } from "node:worker_threads";
import { serveWasmCalls, type WorkerRequest } from "./wasm-executor.js";

/** The worker thread the Node host runs WebAssembly calls in (node-worker-executor.ts). */
const port = parentPort!;
const serve = serveWasmCalls((answer, transfer) => port.postMessage(answer, transfer));
port.on("message", (request: WorkerRequest) => serve(request));
