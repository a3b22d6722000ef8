/**
 * The engine in a browser page or a Web Worker (`@conductor/host/browser`; built by scripts/browser-build.mjs): the
 * core (`@conductor/host/core`: blueprints, validation, the scheduler, TypeScript nodes in the page, the memory
 * journal) with WebAssembly nodes in Web Workers and a journal in IndexedDB that lets a reloaded page resume its
 * executions. See docs/browser.md and docs/webassembly.md.
 */
export { parseBlueprint } from "../blueprint/parse-blueprint.js";
export { ConductorError } from "../errors.js";
export type { ExecutionResult, NodeRecord } from "../scheduler/execution.js";
export type { ExecutionEvent, ExecutionListener } from "../scheduler/execution-events.js";
export {
  createBrowserWasmRuntime,
  createWebWorkerExecutor,
  loadWasmModule,
  type WebWorkerLike,
} from "../wasm/browser.js";
export { browserCoreNodes } from "./browser-core-nodes.js";
export {
  type BlueprintSource,
  type BrowserEngine,
  type BrowserEngineOptions,
  type BrowserExecution,
  type BrowserRunOptions,
  createBrowserEngine,
  type PreparedBrowserBlueprint,
} from "./browser-engine.js";
export { type BrowserJournal, createMemoryJournal, type JournaledExecution } from "./browser-journal.js";
export {
  createIndexedDbJournal,
  type IdbFactory,
  type IndexedDbJournalOptions,
} from "./indexeddb-journal.js";
