/**
 * @conductor/sdk: write Conductor nodes in TypeScript.
 *
 * @example
 * import { defineNode, NodeFailure } from "@conductor/sdk";
 * import { z } from "zod";
 *
 * export const greet = defineNode({
 *   type: "demo.greet",
 *   input: { name: z.string() },
 *   output: { text: z.string() },
 *   run: ({ name }) => ({ text: `hello, ${name}` }),
 * });
 *
 * Serve a module of nodes as a runtime with `serveRuntime` from "@conductor/sdk/serve"; load modules of nodes from
 * files with `loadNodeModules` from "@conductor/sdk/load"; the wire-level ABI (messages, codecs) is in
 * "@conductor/sdk/protocol". This entry imports no Node built-in: it runs in a browser page and a Web Worker too.
 */

export type { NodeDefinition, NodeFlags, NodeSpec } from "./node/define-node.js";
export { defineNode, isNodeDefinition } from "./node/define-node.js";
export type { NodeContext, NodeLogger } from "./node/node-context.js";
export type { NodeFailureOptions } from "./node/node-failure.js";
export { NodeFailure } from "./node/node-failure.js";
export {
  checkpoint,
  isAsyncIterable,
  isStreamCheckpoint,
  type StreamCheckpoint,
  type StreamResume,
  stream,
} from "./node/stream-port.js";
export { values } from "./node/value-schemas.js";
export type { InvocationControl, NodeRuntime, NodeRuntimeOptions } from "./runtime/node-runtime.js";
export { createNodeRuntime } from "./runtime/node-runtime.js";
export { didYouMean } from "./runtime/unknown-keys.js";
