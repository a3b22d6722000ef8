/**
 * @conductor/host: the Conductor host, embeddable. `createConductor()` loads a project, validates blueprints
 * against the node types of every runtime, and runs them.
 */

export type { ApiServer, ApiServerOptions } from "./api/api-server.js";
export { createApiServer } from "./api/api-server.js";
export type { BlueprintDocument } from "./blueprint/blueprint-schema.js";
export { blueprintJsonSchema } from "./blueprint/blueprint-schema.js";
export type { LoadedBlueprint } from "./blueprint/load-blueprint.js";
export { loadBlueprintFile, parseBlueprint } from "./blueprint/load-blueprint.js";
export type {
  BlueprintSource,
  Conductor,
  ConductorOptions,
  ExecutionHandle,
  Executions,
  NodeTypeEntry,
  PreparedBlueprint,
  RunOptions,
} from "./conductor.js";
export { createConductor } from "./conductor.js";
export type { ConductorErrorCode, Diagnostic } from "./errors.js";
export { ConductorError, formatDiagnostics } from "./errors.js";
export { coreNodes } from "./nodes/index.js";
export type { BlueprintEntry } from "./project/blueprint-catalog.js";
export type { Project, RuntimeSpec } from "./project/project-config.js";
export type { SupervisionOptions } from "./runtime/child-runtime.js";
export type { CrashLoopBreakerOptions } from "./runtime/crash-loop-breaker.js";
export type { RuntimeHealth } from "./runtime/runtime-connection.js";
export type { ExecutionResult, NodeRecord } from "./scheduler/execution.js";
export type {
  ExecutionEvent,
  ExecutionListener,
  ExecutionStatus,
  NodeStatus,
} from "./scheduler/execution-events.js";
export type {
  ExecutionDetail,
  ExecutionFilter,
  ExecutionStore,
  ExecutionSummary,
  LogEntry,
  NodeHistory,
} from "./store/execution-store.js";
export { createMemoryStore } from "./store/memory-store.js";
