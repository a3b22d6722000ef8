import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import {
  type ConductorService,
  DeployedVersionSchema,
  type GetExecutionResponse,
  type ListExecutionsResponse,
} from "@conductor/sdk/client";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { toConnectError } from "../api/api-errors.js";
import type { AuditSink } from "../api/auth.js";
import { toApiSummary } from "../api/event-mapping.js";
import { IDENTITY, type Identity } from "../api/identity.js";
import { parseBlueprintText } from "../blueprint/load-blueprint.js";
import type { Conductor } from "../conductor.js";
import { ConductorError } from "../errors.js";
import type { Deployments } from "./deployments.js";
import { DEFAULT_NAMESPACE } from "./roles.js";
import { createTenancyMethods } from "./tenancy-service.js";
import type { TenancyStore } from "./tenancy-store.js";

type Service = ServiceImpl<typeof ConductorService>;
type Tenancy = Pick<
  TenancyStore,
  | "setExecutionNamespace"
  | "namespaceOfExecution"
  | "executionsIn"
  | "namespacedExecutions"
  | "addUpload"
  | "hasUpload"
  | "uploadKnown"
  | "createKey"
  | "listKeys"
  | "revokeKey"
  | "putSecret"
  | "listSecrets"
  | "deleteSecret"
  | "listAudit"
  | "verifyAudit"
>;

const EXECUTION_REF = /^executions\/(.+?)\/(?:nodes\/[^/]+\/)?(?:inputs|outputs)\/[^/]+$/;

/**
 * Keeps every caller inside its namespace, around the API service: the gate (auth.ts) has checked the caller's
 * permission for the method; this checks that what the request names (a blueprint, an execution, a value) is in the
 * caller's namespace, records the namespace of what it starts or uploads, and records every call that changes
 * something in the audit trail with its target and outcome.
 *
 * The project's blueprint files belong to the default namespace. Anything of another namespace is answered as if
 * it did not exist (NOT_FOUND, with the same message), so a caller learns nothing about other namespaces.
 */
export function scopeService(
  conductor: Conductor,
  service: Service,
  tenancy: Tenancy,
  audit?: AuditSink,
  quotas: NamespaceQuotas | QuotaGate = {},
  deployments?: Deployments,
): Service {
  // A gate given is shared with the webhooks, so both count against one quota.
  const quota = "admit" in quotas ? quotas : createQuotaGate(conductor, quotas);
  const caller = (context: HandlerContext): Identity => context.values.get(IDENTITY);
  const address = (context: HandlerContext) => context.requestHeader.get("x-conductor-peer") ?? "";
  const record = (context: HandlerContext, action: string, target: string, outcome: string, detail = "") =>
    audit?.record({ identity: caller(context), action, target, address: address(context), outcome, detail });
  const outcomeOf = (error: unknown) => {
    const problem = ConnectError.from(error);
    return { code: codeName(problem.code), message: problem.rawMessage };
  };

  const noExecution = (executionId: string, running = false) =>
    new ConnectError(
      running
        ? `no execution "${executionId}" is running or recorded`
        : `no execution "${executionId}" is recorded`,
      Code.NotFound,
    );
  const assertExecution = (context: HandlerContext, executionId: string, running = false) => {
    if (tenancy.namespaceOfExecution(executionId) !== caller(context).namespace) {
      throw noExecution(executionId, running);
    }
  };
  /**
   * Refuses an input naming a value another namespace uploaded with the very message the service gives for a value
   * nobody uploaded (value-uploads.ts), for the same input, so a caller cannot tell the two apart. Only top-level
   * inputs are refs (as the service resolves them); the first ref nobody uploaded is left to the service.
   */
  const assertUploads = (context: HandlerContext, text: string) => {
    if (!text.includes("uploads/")) return;
    let inputs: unknown;
    try {
      inputs = JSON.parse(text);
    } catch {
      return; // the service answers inputs that are not JSON
    }
    if (typeof inputs !== "object" || inputs === null || Array.isArray(inputs)) return;
    for (const [name, value] of Object.entries(inputs)) {
      const ref = (value as { $ref?: unknown } | null)?.$ref;
      if (typeof ref !== "string" || !ref.startsWith("uploads/")) continue;
      const sha = ref.slice("uploads/".length);
      if (tenancy.hasUpload(sha, caller(context).namespace)) continue;
      if (!tenancy.uploadKnown(sha)) return;
      throw new ConnectError(
        `input "${name}" names "${ref}", which is not an uploaded value; upload it with UploadValue first and pass the ref it answers`,
        Code.InvalidArgument,
      );
    }
  };
  /** Answers a value ref of another namespace (an upload, an execution's value) as one that does not exist. */
  const assertValueRef = (context: HandlerContext, ref: string) => {
    const namespace = caller(context).namespace;
    const upload = /^uploads\/([0-9a-f]{64})$/.exec(ref);
    if (upload !== null && !tenancy.hasUpload(upload[1]!, namespace) && tenancy.uploadKnown(upload[1]!)) {
      throw new ConnectError(`no value "${ref}": nothing was uploaded with this SHA-256`, Code.NotFound);
    }
    const execution = EXECUTION_REF.exec(ref);
    if (execution !== null && tenancy.namespaceOfExecution(execution[1]!) !== namespace) {
      throw new ConnectError(`no value "${ref}": execution "${execution[1]}" is not recorded`, Code.NotFound);
    }
  };
  /** Checks a start request against the caller's namespace, and gives the execution id it will have. */
  const admitStart = async (
    context: HandlerContext,
    request: {
      blueprint: { case: string | undefined; value?: string | undefined };
      inputsJson: string;
      executionId: string;
    },
  ): Promise<string> => {
    const namespace = caller(context).namespace;
    // A blueprint id names the namespace's deployed versions (and, in the default namespace, the project's files):
    // the execution starter finds it, or answers NOT_FOUND.
    if (namespace !== DEFAULT_NAMESPACE) {
      if (request.blueprint.case === "document") {
        // A blueprint sent inline may not reach into the project's (default namespace's) blueprints.
        const loaded = await parseBlueprintText(request.blueprint.value ?? "").catch((error: unknown) => {
          throw error instanceof ConductorError
            ? new ConnectError(error.message, Code.InvalidArgument)
            : error;
        });
        const nested = Object.entries(loaded.document.nodes).filter(([, node]) =>
          node.type.startsWith("blueprint."),
        );
        if (nested.length > 0) {
          throw new ConnectError(
            `nodes.${nested[0]![0]} uses ${nested[0]![1].type}, a blueprint of the default namespace, which namespace "${namespace}" cannot reach`,
            Code.PermissionDenied,
          );
        }
      }
    }
    assertUploads(context, request.inputsJson);
    // The default namespace records nothing: the request goes on as it came (a journal read costs a flush).
    if (namespace === DEFAULT_NAMESPACE) {
      quota.admit(namespace);
      return request.executionId;
    }
    // Elsewhere the execution's namespace is recorded before it starts, so no one else can watch it meanwhile.
    const executionId = request.executionId === "" ? randomUUID() : request.executionId;
    if (request.executionId !== "" && conductor.executions.get(executionId) !== undefined) {
      throw new ConnectError(`execution "${executionId}" already exists`, Code.AlreadyExists);
    }
    quota.admit(namespace);
    tenancy.setExecutionNamespace(executionId, namespace, Date.now());
    return executionId;
  };
  const targetOf = (blueprint: { case: string | undefined; value?: string | undefined }) =>
    blueprint.case === "blueprintId"
      ? `blueprint:${blueprint.value}`
      : blueprint.case === "document"
        ? "inline"
        : "";

  const managed =
    deployments === undefined
      ? {}
      : createTenancyMethods({
          projectDir: conductor.project.dir,
          tenancy,
          deployments,
          record: (context, action, target, outcome, detail) =>
            record(context, action, target, outcome, detail),
          codeOf: (error) => outcomeOf(error instanceof ConductorError ? toConnectError(error) : error),
        });

  return {
    ...service,
    ...managed,

    async startExecution(request, context) {
      let executionId = "";
      try {
        executionId = await admitStart(context, request);
        let answer: Awaited<ReturnType<Service["startExecution"]>>;
        try {
          answer = await service.startExecution(
            executionId === request.executionId ? request : { ...request, executionId },
            context,
          );
        } catch (error) {
          quota.release(caller(context).namespace);
          throw error;
        }
        quota.releaseWhenFinished(caller(context).namespace, answer.executionId ?? "");
        record(
          context,
          "StartExecution",
          `execution:${answer.executionId}`,
          "ok",
          targetOf(request.blueprint),
        );
        return answer;
      } catch (error) {
        const problem = outcomeOf(error);
        record(
          context,
          "StartExecution",
          executionId === "" ? targetOf(request.blueprint) : `execution:${executionId}`,
          problem.code,
          problem.message,
        );
        throw error;
      }
    },

    async runExecution(request, context) {
      let executionId = "";
      try {
        executionId = await admitStart(context, request);
        let answer: Awaited<ReturnType<Service["runExecution"]>>;
        try {
          answer = await service.runExecution(
            executionId === request.executionId ? request : { ...request, executionId },
            context,
          );
        } finally {
          quota.release(caller(context).namespace);
        }
        record(context, "RunExecution", `execution:${answer.executionId}`, "ok", targetOf(request.blueprint));
        return answer;
      } catch (error) {
        const problem = outcomeOf(error);
        record(
          context,
          "RunExecution",
          executionId === "" ? targetOf(request.blueprint) : `execution:${executionId}`,
          problem.code,
          problem.message,
        );
        throw error;
      }
    },

    async *watchExecution(request, context) {
      assertExecution(context, request.executionId);
      yield* service.watchExecution(request, context);
    },

    async getExecution(request, context) {
      assertExecution(context, request.executionId);
      // The service builds a new answer for each call, so it is completed in place.
      const answer = (await service.getExecution(request, context)) as GetExecutionResponse;
      const deployment = deployments?.store.executionDeployment(request.executionId);
      if (deployment !== undefined && answer.execution !== undefined) {
        answer.execution.deployment = create(DeployedVersionSchema, {
          blueprintId: deployment.blueprintId,
          version: deployment.version,
          digest: deployment.digest,
        });
      }
      return answer;
    },

    async listExecutions(request, context) {
      const namespace = caller(context).namespace;
      const limit = request.limit === 0 ? 100 : request.limit;
      if (namespace === DEFAULT_NAMESPACE) {
        const elsewhere = tenancy.namespacedExecutions();
        if (elsewhere.size === 0) return service.listExecutions(request, context);
        const answer = (await service.listExecutions(
          { ...request, limit: limit + elsewhere.size },
          context,
        )) as ListExecutionsResponse;
        return {
          executions: answer.executions
            .filter((summary) => !elsewhere.has(summary.executionId.split("/", 1)[0]!))
            .slice(0, limit),
        };
      }
      const executions = [];
      for (const id of tenancy.executionsIn(namespace, limit * 4)) {
        const detail = conductor.executions.get(id);
        if (detail === undefined) continue;
        const summary = toApiSummary(detail);
        if (request.blueprintId !== "" && summary.blueprintId !== request.blueprintId) continue;
        if (request.status !== 0 && summary.status !== request.status) continue;
        executions.push(summary);
        if (executions.length >= limit) break;
      }
      return { executions };
    },

    async cancelExecution(request, context) {
      try {
        assertExecution(context, request.executionId, true);
        const answer = await service.cancelExecution(request, context);
        record(
          context,
          "CancelExecution",
          `execution:${request.executionId}`,
          "ok",
          answer.cancelled ? "cancelled" : "not running",
        );
        return answer;
      } catch (error) {
        const problem = outcomeOf(error);
        record(context, "CancelExecution", `execution:${request.executionId}`, problem.code, problem.message);
        throw error;
      }
    },

    async validateBlueprint(request, context) {
      const namespace = caller(context).namespace;
      if (namespace !== DEFAULT_NAMESPACE && request.blueprint.case === "blueprintId") {
        throw new ConnectError(
          `namespace "${namespace}" has no blueprint "${request.blueprint.value}"`,
          Code.NotFound,
        );
      }
      return service.validateBlueprint(request, context);
    },

    async listBlueprints(request, context) {
      if (caller(context).namespace !== DEFAULT_NAMESPACE) {
        const answer = await service.listBlueprints(request, context);
        return { ...answer, blueprints: [] };
      }
      return service.listBlueprints(request, context);
    },

    // Schedules start the project's blueprints, and workers serve the project's runtimes: the default namespace's.
    async listSchedules(request, context) {
      const answer = await service.listSchedules(request, context);
      return caller(context).namespace === DEFAULT_NAMESPACE ? answer : { ...answer, schedules: [] };
    },

    async listWorkers(request, context) {
      if (caller(context).namespace !== DEFAULT_NAMESPACE) return { workers: [] };
      return service.listWorkers(request, context);
    },

    async getBlueprint(request, context) {
      const namespace = caller(context).namespace;
      if (namespace !== DEFAULT_NAMESPACE) {
        throw new ConnectError(
          `namespace "${namespace}" has no blueprint "${request.blueprintId}"`,
          Code.NotFound,
        );
      }
      return service.getBlueprint(request, context);
    },

    async *readValue(request, context) {
      assertValueRef(context, request.ref);
      yield* service.readValue(request, context);
    },

    // A preview reads the same values as ReadValue, so it is kept to the caller's namespace the same way.
    async previewValue(request, context) {
      assertValueRef(context, request.ref);
      return service.previewValue(request, context);
    },

    async uploadValue(requests, context) {
      try {
        const answer = await service.uploadValue(requests, context);
        tenancy.addUpload(answer.handle?.sha256 ?? "", caller(context).namespace);
        record(context, "UploadValue", `upload:${answer.handle?.sha256 ?? ""}`, "ok");
        return answer;
      } catch (error) {
        const problem = outcomeOf(error);
        record(context, "UploadValue", "", problem.code, problem.message);
        throw error;
      }
    },
  };
}

/** A Connect code as the audit trail names it: `not_found`, `permission_denied`, ... */
function codeName(code: Code): string {
  return (Code[code] ?? "unknown").replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/** Per-namespace limits on starting executions (each namespace gets the same); unset means unlimited. */
export interface NamespaceQuotas {
  /** Executions started through this server and not finished yet, per namespace. */
  maxInFlight?: number;
  /** Starts per namespace in any 60 seconds. */
  maxStartsPerMinute?: number;
}

const MINUTE_MS = 60_000;

/** The quotas of a server's namespaces, shared by the API and the webhooks. */
export type QuotaGate = ReturnType<typeof createQuotaGate>;

/**
 * Counts each namespace's executions in flight and recent starts, and refuses a start beyond a quota with
 * RESOURCE_EXHAUSTED naming the quota, the namespace and the limit. Costs nothing when no quota is set. The counts
 * are this process's: two servers of one project each allow the quota.
 */
export function createQuotaGate(conductor: Pick<Conductor, "executions">, quotas: NamespaceQuotas) {
  const inFlight = new Map<string, number>();
  const starts = new Map<string, number[]>();
  const enabled = quotas.maxInFlight !== undefined || quotas.maxStartsPerMinute !== undefined;
  const release = (namespace: string) => {
    if (quotas.maxInFlight === undefined) return;
    inFlight.set(namespace, Math.max(0, (inFlight.get(namespace) ?? 1) - 1));
  };
  return {
    admit(namespace: string) {
      if (!enabled) return;
      const running = inFlight.get(namespace) ?? 0;
      if (quotas.maxInFlight !== undefined && running >= quotas.maxInFlight) {
        throw new ConnectError(
          `quota "executions in flight" of namespace "${namespace}" is reached: ${running} of ${quotas.maxInFlight} are running; wait for one to finish or cancel one`,
          Code.ResourceExhausted,
        );
      }
      if (quotas.maxStartsPerMinute !== undefined) {
        const now = Date.now();
        const recent = (starts.get(namespace) ?? []).filter((at) => at > now - MINUTE_MS);
        starts.set(namespace, recent);
        if (recent.length >= quotas.maxStartsPerMinute) {
          throw new ConnectError(
            `quota "starts per minute" of namespace "${namespace}" is reached: ${quotas.maxStartsPerMinute} executions started in the last 60 s; try again later`,
            Code.ResourceExhausted,
          );
        }
        recent.push(now);
      }
      if (quotas.maxInFlight !== undefined) inFlight.set(namespace, running + 1);
    },
    release,
    /** Releases the namespace's slot when a started execution finishes. */
    releaseWhenFinished(namespace: string, executionId: string) {
      if (quotas.maxInFlight === undefined) return;
      let stop: (() => void) | undefined;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        release(namespace);
        stop?.();
      };
      try {
        stop = conductor.executions.subscribe(executionId, (event) => {
          if (event.type === "execution.finished") finish();
        });
        if (done) stop();
      } catch {
        finish();
      }
    },
  };
}
