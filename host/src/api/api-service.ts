import { join, relative } from "node:path";
import { create } from "@bufbuild/protobuf";
import {
  type ConductorService,
  GetBlueprintResponseSchema,
  RunExecutionResponseSchema,
} from "@conductor/sdk/client";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { type LoadedBlueprint, loadBlueprintFile, parseBlueprintText } from "../blueprint/load-blueprint.js";
import type { Conductor } from "../conductor.js";
import { ConductorError, type Diagnostic } from "../errors.js";
import type { ExecutionResult } from "../scheduler/execution.js";
import { configuredSchedules } from "../schedules/configured-schedules.js";
import { mapErrors } from "./api-errors.js";
import { blueprintView, toApiNodeType } from "./blueprint-view.js";
import { type ScheduleSource, toApiSchedule, toApiWorker, type WorkerSource } from "./cluster-views.js";
import {
  fromApiExecutionStatus,
  toApiExecution,
  toApiExecutionStatus,
  toApiFailure,
  toApiSummary,
} from "./event-mapping.js";
import { type BlueprintChoice, createExecutionStarter, type ExecutionStarter } from "./execution-starter.js";
import { watchExecution } from "./execution-watch.js";
import { IDENTITY } from "./identity.js";
import { parseJsonObject } from "./json-text.js";
import { handleJson, valuesJsonText } from "./value-handles.js";
import { previewValueJson } from "./value-preview.js";
import { createValueReader } from "./value-reader.js";
import { createValueUploads, type ValueUploads } from "./value-uploads.js";

/**
 * The most bytes of `inputs_json`: parsing JSON text takes several times its size in memory, so larger inputs are
 * uploaded with UploadValue and passed by handle.
 */
export const MAX_INPUTS_JSON_BYTES = 16 * 1024 * 1024;

/**
 * The implementation of `conductor.api.v1.ConductorService` over an embedded {@link Conductor}. Each method maps
 * its request to the conductor's own calls and its answer through event-mapping.ts; host errors become Connect
 * errors through api-errors.ts.
 */
export function createApiService(
  conductor: Conductor,
  starter: ExecutionStarter = createExecutionStarter(conductor),
  uploads: ValueUploads = createValueUploads({ dir: join(conductor.project.dir, ".conductor", "uploads") }),
  cluster: { schedules?: ScheduleSource | undefined; workers?: WorkerSource | undefined } = {},
): ServiceImpl<typeof ConductorService> {
  const reader = createValueReader(conductor, uploads);
  const start = async (
    request: { blueprint: BlueprintChoice; inputsJson: string; executionId: string; version?: number },
    context: HandlerContext,
  ) => {
    if (request.inputsJson.length > MAX_INPUTS_JSON_BYTES / 3) {
      const bytes = Buffer.byteLength(request.inputsJson, "utf8");
      if (bytes > MAX_INPUTS_JSON_BYTES) {
        throw new ConnectError(
          `inputs_json is ${bytes} bytes, more than the limit of ${MAX_INPUTS_JSON_BYTES}; upload large values with UploadValue and pass {"$ref": "<the ref it answers>"} as the input`,
          Code.InvalidArgument,
        );
      }
    }
    const inputs = await uploads.resolveInputs(parseJsonObject(request.inputsJson, "inputs_json"));
    if (request.executionId !== "" && conductor.executions.get(request.executionId) !== undefined) {
      throw new ConnectError(`execution "${request.executionId}" already exists`, Code.AlreadyExists);
    }
    // The caller's identity, left by the server's request gate, decides whether it may send a blueprint inline.
    const prepared = await starter.prepare(request.blueprint, context.values.get(IDENTITY), request.version);
    // A W3C traceparent on the request makes the execution's span its child (docs/telemetry.md).
    const traceparent = context.requestHeader.get("traceparent") ?? undefined;
    const handle = prepared.start(inputs, {
      ...(request.executionId === "" ? {} : { executionId: request.executionId }),
      ...(traceparent === undefined ? {} : { traceparent }),
      trigger: "api",
    });
    // A deployed version is recorded with the execution (nothing is recorded for files and inline documents).
    starter.recordStart(prepared, handle.executionId);
    return { handle, blueprintId: prepared.graph.id, version: starter.deploymentOf(prepared)?.version ?? 0 };
  };

  // Deployments, keys, secrets and the audit trail live in the project's tenancy database, which a server made
  // with `tenancy: false` does not open: there these RPCs say so (scopeService serves them otherwise).
  const noTenancy = async (): Promise<never> => {
    throw new ConnectError(
      "this server keeps no tenancy database (it was made with tenancy: false), so it has no deployments, API keys, secrets or audit trail to manage",
      Code.FailedPrecondition,
    );
  };

  return {
    deploy: noTenancy,
    listDeployments: noTenancy,
    rollback: noTenancy,
    listKeys: noTenancy,
    createKey: noTenancy,
    revokeKey: noTenancy,
    listSecrets: noTenancy,
    setSecret: noTenancy,
    deleteSecret: noTenancy,
    listAuditEvents: noTenancy,
    verifyAudit: noTenancy,

    startExecution: (request, context) =>
      mapErrors(async () => {
        const { handle, blueprintId, version } = await start(request, context);
        return { executionId: handle.executionId, blueprintId, version };
      }),

    runExecution: (request, context) =>
      mapErrors(async () => {
        const { handle, version } = await start(request, context);
        // A caller that goes away, or a server shutting down (connect aborts every call's signal then), cancels
        // the execution it was waiting for.
        const onAbort = () => handle.cancel("the caller of RunExecution went away");
        context.signal.addEventListener("abort", onAbort, { once: true });
        let result: ExecutionResult;
        try {
          result = await handle.result;
        } finally {
          context.signal.removeEventListener("abort", onAbort);
        }
        return create(RunExecutionResponseSchema, {
          executionId: result.executionId,
          blueprintId: result.blueprintId,
          status: toApiExecutionStatus(result.status),
          outputsJson:
            valuesJsonText(
              result.encodedOutputs ?? result.outputs,
              `executions/${result.executionId}/outputs`,
            ) || "null",
          durationMs: result.durationMs,
          version,
          ...(result.failure === undefined ? {} : { failure: toApiFailure(result.failure) }),
        });
      }),

    watchExecution: (request, context) =>
      watchExecution(conductor, request.executionId, request.afterSeq, context.signal),

    getExecution: (request) =>
      mapErrors(async () => {
        const detail = conductor.executions.get(request.executionId);
        if (detail === undefined) {
          throw new ConnectError(`no execution "${request.executionId}" is recorded`, Code.NotFound);
        }
        return { execution: toApiExecution(detail) };
      }),

    listExecutions: (request) =>
      mapErrors(async () => {
        const status = fromApiExecutionStatus(request.status);
        const summaries = conductor.executions.list({
          limit: request.limit === 0 ? 100 : request.limit,
          ...(request.blueprintId === "" ? {} : { blueprintId: request.blueprintId }),
          ...(status === undefined ? {} : { status }),
        });
        return { executions: summaries.map(toApiSummary) };
      }),

    cancelExecution: (request) =>
      mapErrors(async () => {
        const cancelled = conductor.executions.cancel(
          request.executionId,
          request.reason === "" ? "cancelled through the API" : request.reason,
        );
        if (!cancelled && conductor.executions.get(request.executionId) === undefined) {
          throw new ConnectError(
            `no execution "${request.executionId}" is running or recorded`,
            Code.NotFound,
          );
        }
        return { cancelled };
      }),

    listNodeTypes: (request) =>
      mapErrors(async () => {
        const entries = (await conductor.nodeTypes()).filter(
          (entry) => request.runtime === "" || entry.runtime === request.runtime,
        );
        return { nodeTypes: entries.map(toApiNodeType) };
      }),

    validateBlueprint: (request) =>
      mapErrors(async () => {
        let loaded: LoadedBlueprint | string;
        try {
          loaded = await loadChoice(starter, request.blueprint);
        } catch (error) {
          if (error instanceof ConductorError) return { valid: false, diagnostics: apiDiagnostics(error) };
          throw error;
        }
        const result = await conductor.validate(loaded);
        return { valid: result.valid, diagnostics: result.diagnostics.map(apiDiagnostic) };
      }),

    listBlueprints: () =>
      mapErrors(async () => ({
        blueprints: (await conductor.blueprints()).map((entry) => ({
          id: entry.id,
          path: entry.path,
          title: entry.title,
          description: entry.description,
        })),
      })),

    readValue: (request) => readValue(reader, request.ref),

    previewValue: (request) =>
      mapErrors(async () => {
        const bytes = await reader.read(request.ref);
        const previewJson = await previewValueJson(bytes, request.rows);
        const handle = handleJson(request.ref, bytes);
        return {
          handle: { ref: handle.$ref, type: handle.type, size: BigInt(handle.size), sha256: handle.sha256 },
          previewJson,
        };
      }),

    uploadValue: (requests) =>
      mapErrors(async () => {
        // The type comes with the first message.
        const iterator = requests[Symbol.asyncIterator]();
        const first = await iterator.next();
        async function* chunks() {
          if (first.done === true) return;
          yield first.value.chunk;
          for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
            yield next.value.chunk;
          }
        }
        const handle = await uploads.store(first.done === true ? "" : first.value.type, chunks());
        return {
          handle: { ref: handle.$ref, type: handle.type, size: BigInt(handle.size), sha256: handle.sha256 },
        };
      }),

    listSchedules: () =>
      mapErrors(async () => {
        const source = cluster.schedules ?? {
          mode: "none" as const,
          list: async () => configuredSchedules(conductor),
        };
        return { schedules: (await source.list()).map(toApiSchedule), mode: source.mode };
      }),

    listWorkers: (request) =>
      mapErrors(async () => ({
        workers: ((await cluster.workers?.({ all: request.all })) ?? []).map(toApiWorker),
      })),

    getBlueprint: (request) =>
      mapErrors(async () => {
        const path = await starter.locator.pathOf(request.blueprintId);
        const loaded = await loadBlueprintFile(path);
        const [nodeTypes, validation] = await Promise.all([
          conductor.nodeTypes(),
          conductor.validate(loaded),
        ]);
        return create(GetBlueprintResponseSchema, {
          blueprint: blueprintView(
            loaded,
            { path: relative(conductor.project.dir, path) },
            nodeTypes,
            validation.diagnostics,
          ),
        });
      }),
  };
}

/** Streams a value by its ref: its handle first, then its bytes. */
async function* readValue(reader: ReturnType<typeof createValueReader>, ref: string) {
  let bytes: Awaited<ReturnType<typeof reader.read>>;
  try {
    bytes = await reader.read(ref);
  } catch (error) {
    throw ConnectError.from(error);
  }
  const handle = handleJson(ref, bytes);
  yield { handle: { ref, type: handle.type, size: BigInt(handle.size), sha256: handle.sha256 } };
  for await (const chunk of bytes.chunks()) yield { chunk };
}

async function loadChoice(starter: ExecutionStarter, choice: BlueprintChoice): Promise<LoadedBlueprint> {
  switch (choice.case) {
    case "blueprintId":
      return loadBlueprintFile(await starter.locator.pathOf(choice.value));
    case "document":
      return parseBlueprintText(choice.value);
    default:
      throw new ConnectError(
        "no blueprint given: set blueprint_id (a blueprint of the project) or document (JSON or YAML text)",
        Code.InvalidArgument,
      );
  }
}

function apiDiagnostic(d: Diagnostic) {
  return { path: d.path, message: d.message, suggestion: d.suggestion ?? "" };
}

function apiDiagnostics(error: ConductorError) {
  return error.diagnostics.length > 0
    ? error.diagnostics.map(apiDiagnostic)
    : [{ path: "", message: error.message, suggestion: "" }];
}
