import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ConductorService } from "@conductor/sdk/client";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { toConnectError } from "../api/api-errors.js";
import { IDENTITY, type Identity } from "../api/identity.js";
import type { Deployment } from "./deployment-store.js";
import type { Deployments } from "./deployments.js";
import { isRole } from "./roles.js";
import { SecretKeyRing, secretNameProblem } from "./secrets.js";
import type { ApiKeyInfo, TenancyStore } from "./tenancy-store.js";

type Service = ServiceImpl<typeof ConductorService>;

/** The RPCs that manage a namespace: deployments, API keys, secrets and the audit trail. */
export type TenancyMethods = Pick<
  Service,
  | "deploy"
  | "listDeployments"
  | "rollback"
  | "listKeys"
  | "createKey"
  | "revokeKey"
  | "listSecrets"
  | "setSecret"
  | "deleteSecret"
  | "listAuditEvents"
  | "verifyAudit"
>;

/** Most bytes of a secret's value set through the API. */
export const MAX_SECRET_BYTES = 64 * 1024;

/** Records a call that changed something (or was refused while doing so). */
export type RecordCall = (
  context: HandlerContext,
  action: string,
  target: string,
  outcome: string,
  detail?: string,
) => void;

/**
 * The namespace-management RPCs, each acting in the caller's namespace only (the request gate has checked the
 * permission: `deploy`, `secrets` or `manage`, docs/security.md). Every change, and every change refused, is
 * recorded in the audit trail. Secret values go in (SetSecret) and never come out.
 */
export function createTenancyMethods(options: {
  projectDir: string;
  tenancy: Pick<
    TenancyStore,
    | "createKey"
    | "listKeys"
    | "revokeKey"
    | "putSecret"
    | "listSecrets"
    | "deleteSecret"
    | "listAudit"
    | "verifyAudit"
  >;
  deployments: Deployments;
  record: RecordCall;
  codeOf: (error: unknown) => { code: string; message: string };
}): TenancyMethods {
  const { tenancy, deployments, record } = options;
  const caller = (context: HandlerContext): Identity => context.values.get(IDENTITY);
  /** Runs a change, recording its outcome under `action` with the target it gives (or had when it failed). */
  const change = async <T>(
    context: HandlerContext,
    action: string,
    target: string,
    body: () =>
      | Promise<{ answer: T; target?: string; detail?: string }>
      | { answer: T; target?: string; detail?: string },
  ): Promise<T> => {
    try {
      const done = await body();
      record(context, action, done.target ?? target, "ok", done.detail ?? "");
      return done.answer;
    } catch (error) {
      const problem = options.codeOf(error);
      record(context, action, target, problem.code, problem.message);
      throw toConnectError(error);
    }
  };

  return {
    deploy: (request, context) =>
      change(context, "Deploy", "", async () => {
        const identity = caller(context);
        const { deployment, created } = await deployments.deploy({
          text: request.document,
          source: "<Deploy request>",
          namespace: identity.namespace,
          actor: identity.name,
          origin: "api",
          message: request.message,
        });
        return {
          answer: { deployment: apiDeployment(deployment, false), created },
          target: `blueprint:${deployment.blueprintId}@${deployment.version}`,
          detail: created ? `digest ${deployment.digest}` : "unchanged: an equal version is now current",
        };
      }),

    listDeployments: async (request, context) => ({
      deployments: deployments.store
        .list(caller(context).namespace, request.blueprintId === "" ? undefined : request.blueprintId)
        .map((deployment) => apiDeployment(deployment, request.withDocuments)),
    }),

    rollback: (request, context) =>
      change(context, "Rollback", `blueprint:${request.blueprintId}@${request.version}`, () => ({
        answer: {
          deployment: apiDeployment(
            deployments.rollback(caller(context).namespace, request.blueprintId, request.version),
            false,
          ),
        },
      })),

    listKeys: async (_request, context) => ({
      keys: tenancy
        .listKeys()
        .filter((key) => key.namespace === caller(context).namespace)
        .map(apiKey),
    }),

    createKey: (request, context) =>
      change(context, "CreateKey", "", () => {
        if (!isRole(request.role)) {
          throw new ConnectError(
            `role must be one of admin, editor, operator, viewer, worker; got ${JSON.stringify(request.role.slice(0, 40))}`,
            Code.InvalidArgument,
          );
        }
        const created = tenancy.createKey({
          name: request.name,
          namespace: caller(context).namespace,
          role: request.role,
          ...(request.expiresInSeconds === 0
            ? {}
            : { expiresAt: Date.now() + request.expiresInSeconds * 1000 }),
        });
        return {
          answer: { info: apiKey(created), key: created.key },
          target: `key:${created.id}`,
          detail: `role ${created.role}`,
        };
      }),

    revokeKey: (request, context) =>
      change(context, "RevokeKey", `key:${request.id.slice(0, 40)}`, () => {
        // A key of another namespace is answered as one that does not exist.
        const key = tenancy.listKeys().find((candidate) => candidate.id === request.id);
        if (key === undefined || key.namespace !== caller(context).namespace) {
          throw new ConnectError(`no API key "${request.id.slice(0, 40)}" in this namespace`, Code.NotFound);
        }
        tenancy.revokeKey(key.id);
        return { answer: {} };
      }),

    listSecrets: async (_request, context) => ({
      secrets: tenancy
        .listSecrets()
        .filter((secret) => secret.namespace === caller(context).namespace)
        .map((secret) => ({
          namespace: secret.namespace,
          name: secret.name,
          keyId: secret.keyId,
          updatedAt: timestampFromMs(secret.updatedAt),
        })),
    }),

    setSecret: (request, context) =>
      change(context, "SetSecret", `secret:${request.name.slice(0, 80)}`, () => {
        const problem = secretNameProblem(request.name);
        if (problem !== undefined) throw new ConnectError(problem, Code.InvalidArgument);
        if (request.value === "")
          throw new ConnectError("a secret's value cannot be empty", Code.InvalidArgument);
        if (Buffer.byteLength(request.value, "utf8") > MAX_SECRET_BYTES) {
          throw new ConnectError(
            `a secret's value is at most ${MAX_SECRET_BYTES} bytes; got ${Buffer.byteLength(request.value, "utf8")}`,
            Code.InvalidArgument,
          );
        }
        const namespace = caller(context).namespace;
        const ring = SecretKeyRing.load(options.projectDir, { create: true })!;
        tenancy.putSecret(namespace, request.name, ring.seal(namespace, request.name, request.value));
        const now = Date.now();
        return {
          answer: {
            secret: {
              namespace,
              name: request.name,
              keyId: ring.current.id,
              updatedAt: timestampFromMs(now),
            },
          },
          detail: `key ${ring.current.id}`,
        };
      }),

    deleteSecret: (request, context) =>
      change(context, "DeleteSecret", `secret:${request.name.slice(0, 80)}`, () => {
        if (!tenancy.deleteSecret(caller(context).namespace, request.name)) {
          throw new ConnectError(`no secret "${request.name.slice(0, 80)}" in this namespace`, Code.NotFound);
        }
        return { answer: {} };
      }),

    listAuditEvents: async (request, context) => ({
      events: tenancy
        .listAudit({ limit: request.limit === 0 ? 100 : request.limit, namespace: caller(context).namespace })
        .map((entry) => ({
          seq: BigInt(entry.seq),
          at: timestampFromMs(entry.at),
          actor: entry.actor,
          namespace: entry.namespace,
          action: entry.action,
          target: entry.target,
          address: entry.address,
          outcome: entry.outcome,
          detail: entry.detail,
          prevHash: entry.prevHash,
          hash: entry.hash,
        })),
    }),

    verifyAudit: async () => {
      const result = tenancy.verifyAudit();
      return {
        ok: result.ok,
        entries: BigInt(result.entries),
        head: result.head,
        brokenSeq: BigInt(result.broken?.seq ?? 0),
        brokenReason: result.broken?.reason ?? "",
      };
    },
  };
}

/** A deployment as the API gives it. */
export function apiDeployment(deployment: Deployment, withDocument: boolean) {
  return {
    namespace: deployment.namespace,
    blueprintId: deployment.blueprintId,
    version: deployment.version,
    digest: deployment.digest,
    codeDigest: deployment.codeDigest,
    code: deployment.code,
    deployedAt: timestampFromMs(deployment.deployedAt),
    deployedBy: deployment.deployedBy,
    message: deployment.message,
    current: deployment.current,
    document: withDocument ? deployment.document : "",
  };
}

function apiKey(key: ApiKeyInfo) {
  return {
    id: key.id,
    name: key.name,
    namespace: key.namespace,
    role: key.role,
    createdAt: timestampFromMs(key.createdAt),
    ...(key.expiresAt === undefined ? {} : { expiresAt: timestampFromMs(key.expiresAt) }),
    ...(key.revokedAt === undefined ? {} : { revokedAt: timestampFromMs(key.revokedAt) }),
  };
}
