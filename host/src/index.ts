/**
 * @conductor/host: the Conductor host, embeddable. `createConductor()` loads a project, validates blueprints
 * against the node types of every runtime, and runs them.
 */

export type { ApiServer, ApiServerOptions } from "./api/api-server.js";
export { createApiServer } from "./api/api-server.js";
export type { BlueprintLimits } from "./blueprint/blueprint-limits.js";
export { DEFAULT_BLUEPRINT_LIMITS } from "./blueprint/blueprint-limits.js";
export type { BlueprintDocument } from "./blueprint/blueprint-schema.js";
export { blueprintJsonSchema } from "./blueprint/blueprint-schema.js";
export type { LoadedBlueprint } from "./blueprint/load-blueprint.js";
export { loadBlueprintFile, parseBlueprint, parseBlueprintText } from "./blueprint/load-blueprint.js";
export type {
  BlueprintSource,
  Conductor,
  ConductorOptions,
  ExecutionHandle,
  ExecutionObserver,
  Executions,
  NodeTypeEntry,
  PreparedBlueprint,
  RunOptions,
} from "./conductor.js";
export { createConductor } from "./conductor.js";
export type { CheckResult, ConformanceCheck } from "./conformance/conformance-check.js";
export { formatCheckResult, formatSummary } from "./conformance/conformance-report.js";
export type { ConformanceOptions, ConformanceReport } from "./conformance/run-conformance.js";
export { conformanceChecks, runConformance } from "./conformance/run-conformance.js";
export type { BlobInfo, BlobStore } from "./distributed/blob-store.js";
export { type DistributedOptions, listRedisWorkers, startWorker } from "./distributed/distributed.js";
export { createRedisBlobStore, type RedisBlobStoreOptions } from "./distributed/redis-blob-store.js";
export type { ConductorWorker, WorkerOptions } from "./distributed/worker.js";
export type { ListedWorker, WorkerInfo } from "./distributed/worker-registry.js";
export type { ConductorErrorCode, Diagnostic } from "./errors.js";
export { ConductorError, formatDiagnostics } from "./errors.js";
export { type CoreNodesOptions, createCoreNodes } from "./nodes/index.js";
export type { BlueprintEntry } from "./project/blueprint-catalog.js";
export { projectAccess, type ResolvedAccess, type ShellAccess } from "./project/project-access.js";
export type { Project, ProjectAccess, RuntimeSpec } from "./project/project-config.js";
export { readProjectToken, TOKEN_FILE } from "./project/project-token.js";
export type { SupervisionOptions } from "./runtime/child-runtime.js";
export type { CrashLoopBreakerOptions } from "./runtime/crash-loop-breaker.js";
export type { RuntimeHealth } from "./runtime/runtime-connection.js";
export type { ExecutionResult, NodeRecord } from "./scheduler/execution.js";
export type {
  ExecutionEvent,
  ExecutionLineage,
  ExecutionListener,
  ExecutionStatus,
  NodeStatus,
} from "./scheduler/execution-events.js";
export type { LeaseOptions } from "./store/execution-leases.js";
export type { ExecutionOwner, OwnerState } from "./store/execution-owner.js";
export type {
  ExecutionDetail,
  ExecutionFilter,
  ExecutionStore,
  ExecutionSummary,
  LogEntry,
  NodeHistory,
} from "./store/execution-store.js";
export { createMemoryStore } from "./store/memory-store.js";
export type { JournalOptions } from "./store/sqlite-journal.js";
export {
  type ConductorMetrics,
  createConductorMetrics,
  type MetricsMirror,
  metricsFromEnvironment,
  otlpMetricsConfigured,
} from "./telemetry/conductor-metrics.js";
export type { ExecutionTrace, ExecutionTraceStart, Tracing } from "./telemetry/execution-trace.js";
export { createJsonLog, type HostLog, type JsonLogOptions } from "./telemetry/json-log.js";
export { LOG_LEVELS, type LogFormat, type LogLevelName, logSettingsOf } from "./telemetry/log-settings.js";
export { createTracing, tracingFromEnvironment } from "./telemetry/tracing.js";
export type { OidcOptions } from "./tenancy/oidc.js";
export { DEFAULT_NAMESPACE, ROLE_PERMISSIONS, ROLES, type Role } from "./tenancy/roles.js";
export {
  SECRET_KEY_ENV,
  SECRET_KEY_FILE,
  type SealedSecret,
  SecretKeyRing,
} from "./tenancy/secrets.js";
export type {
  ApiKeyInfo,
  AuditEntry,
  AuditVerification,
  CreatedApiKey,
  TenancyStore,
} from "./tenancy/tenancy-store.js";
export { openTenancyStore, TENANCY_FILE } from "./tenancy/tenancy-store.js";
export {
  loadWasmModules,
  startWasmRuntime,
  WASM_DEFAULTS,
  type WasmRuntimeSpec,
} from "./wasm/load-wasm-modules.js";
