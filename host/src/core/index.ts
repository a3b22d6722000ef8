/**
 * The engine's core (`@conductor/host/core`): the blueprint model and its validation, the scheduler, the in-process
 * runtime, expressions, the built-in nodes that need no server, and the memory store and journal. It imports no
 * Node built-in, so it runs unchanged in Node, in a browser page, in a Web Worker and in Electron's renderer; what
 * differs between them (packages loaded on first use, a synchronous SHA-256, blob files) is behind `#platform`
 * (docs/browser.md). The Node host (`@conductor/host`) puts child-process runtimes, the SQLite journal, the API and
 * the CLI on top of these same modules; the browser entry (`@conductor/host/browser`) adds WebAssembly nodes in Web
 * Workers and an IndexedDB journal.
 *
 * @example
 * import { createEngine } from "@conductor/host/core";
 *
 * const engine = createEngine({ nodes: [greet] });
 * const { outputs } = await engine.run(blueprintYaml, { inputs: { name: "Ada" } }).result;
 */
export { fromData, type LoadedBlueprint, parseBlueprint } from "../blueprint/parse-blueprint.js";
export {
  type NodeTypeCatalog,
  type ValidationResult,
  validateBlueprint,
} from "../blueprint/validate-blueprint.js";
export { browserCoreNodes as coreNodes } from "../browser/browser-core-nodes.js";
export {
  type BlueprintSource,
  type BrowserEngine as Engine,
  type BrowserEngineOptions as EngineOptions,
  type BrowserExecution as EngineExecution,
  type BrowserRunOptions as EngineRunOptions,
  createBrowserEngine as createEngine,
  type PreparedBrowserBlueprint as PreparedEngineBlueprint,
} from "../browser/browser-engine.js";
export {
  type BrowserJournal,
  createMemoryJournal,
  type JournaledExecution,
} from "../browser/browser-journal.js";
export { ConductorError, type ConductorErrorCode, type Diagnostic } from "../errors.js";
export { compileExpression, describeExpressionError, type Expression } from "../expression.js";
export { createInProcessRuntime, type InProcessRuntimeOptions } from "../runtime/in-process-runtime.js";
export type { RuntimeConnection } from "../runtime/runtime-connection.js";
export type { ExecutionResult, NodeRecord } from "../scheduler/execution.js";
export type { ExecutionEvent, ExecutionListener } from "../scheduler/execution-events.js";
export { createMemoryStore, type MemoryStoreOptions } from "../store/memory-store.js";
