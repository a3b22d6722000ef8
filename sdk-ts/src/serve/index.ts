/** Serve a module of TypeScript nodes as a Conductor runtime (docs/protocol.md). */

export type { ServedRuntime, ServeRuntimeOptions } from "./serve-runtime.js";
export { serveRuntime } from "./serve-runtime.js";
