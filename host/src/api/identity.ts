import { createContextKey } from "@connectrpc/connect";

/**
 * What a caller may do through the API: `read` (history, blueprints, node types, validation, watching), `run` (start
 * the project's blueprints, by id or through their webhook), `run-inline` (start a blueprint sent in the request,
 * whose nodes and config the caller chooses), `cancel` (cancel executions), `deploy` (publish versions of
 * blueprints and roll them back), `secrets` (set, delete and list the names of secrets), `manage` (API keys and
 * the audit trail).
 */
export type Permission = "read" | "run" | "run-inline" | "cancel" | "deploy" | "secrets" | "manage";

/** Every permission there is. */
export const ALL_PERMISSIONS: ReadonlySet<Permission> = new Set([
  "read",
  "run",
  "run-inline",
  "cancel",
  "deploy",
  "secrets",
  "manage",
]);

/**
 * Who a request comes from, as the server's authentication established it, and what it may do, in which namespace:
 * the anonymous caller (no credentials; may do nothing but call public webhooks, read `/healthz` and load the
 * debugger's pages), the holder of the server's token (the admin of the default namespace), or an API key (a role
 * in one namespace, `host/src/tenancy/roles.ts`). Requests are judged by permission, and what they name must be in
 * the caller's namespace.
 */
export interface Identity {
  /** How the caller is named in messages and the audit trail: `anonymous`, `token`, `key:<id>`. */
  readonly name: string;
  readonly permissions: ReadonlySet<Permission>;
  /** The namespace whose blueprints, executions and values the caller sees; `default` for the token holder. */
  readonly namespace: string;
  /** The caller's role (`admin`, `editor`, `operator`, `viewer`, `worker`), or `none` when anonymous. */
  readonly role: string;
}

/** A caller that sent no credentials. */
export const ANONYMOUS: Identity = {
  name: "anonymous",
  permissions: new Set(),
  namespace: "default",
  role: "none",
};

/** The holder of the server's bearer token: the project's owner, the admin of the default namespace. */
export const TOKEN_HOLDER: Identity = {
  name: "token",
  permissions: ALL_PERMISSIONS,
  namespace: "default",
  role: "admin",
};

/** Where the request gate leaves the caller's identity for the methods (`context.values.get(IDENTITY)`). */
export const IDENTITY = createContextKey<Identity>(ANONYMOUS, { description: "the caller's identity" });

/**
 * The permission each RPC of `conductor.api.v1.ConductorService` needs, by method name. A method missing here is
 * refused to everyone, so a new RPC is closed until it is given a permission.
 */
export const METHOD_PERMISSIONS: Readonly<Record<string, Permission>> = {
  StartExecution: "run",
  RunExecution: "run",
  WatchExecution: "read",
  GetExecution: "read",
  ListExecutions: "read",
  CancelExecution: "cancel",
  ListNodeTypes: "read",
  ValidateBlueprint: "read",
  ListBlueprints: "read",
  GetBlueprint: "read",
  // Reading a value is reading an execution; uploading one only serves to start an execution with it.
  ReadValue: "read",
  PreviewValue: "read",
  UploadValue: "run",
  ListSchedules: "read",
  ListWorkers: "read",
  // Listing versions is reading blueprints; publishing or rolling one back changes what runs.
  ListDeployments: "read",
  Deploy: "deploy",
  Rollback: "deploy",
  ListKeys: "manage",
  CreateKey: "manage",
  RevokeKey: "manage",
  // Secret names only, never values; whoever may set secrets may see which exist.
  ListSecrets: "secrets",
  SetSecret: "secrets",
  DeleteSecret: "secrets",
  ListAuditEvents: "manage",
  VerifyAudit: "manage",
};
