import { timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { looksLikeJwt } from "../tenancy/oidc.js";
import { ROLE_PERMISSIONS, ROLES } from "../tenancy/roles.js";
import type { TenancyStore } from "../tenancy/tenancy-store.js";
import { IDENTITY, type Identity, METHOD_PERMISSIONS, type Permission, TOKEN_HOLDER } from "./identity.js";

/** Options of {@link createAuthPolicy}. */
export interface AuthPolicyOptions {
  /** The bearer token requests must carry: the admin of the default namespace. */
  token: string;
  /** Where a caller without the token can find it, said in the refusal, e.g. `it is in .conductor/api-token`. */
  tokenHint?: string;
  /** Where API keys (`cdk_…`, made with `conductor keys create`) are checked; without it only the token is. */
  keys?: Pick<TenancyStore, "checkKey">;
  /** Verifies OpenID Connect bearer tokens (JWTs); without it they are refused like a wrong token. */
  oidc?: (token: string) => Promise<Identity | AuthProblem>;
}

/**
 * Where the gate records mutations and refusals (the audit trail); `address` is the caller's, as the server saw it.
 */
export interface AuditSink {
  record(entry: {
    identity: Identity;
    action: string;
    target: string;
    address: string;
    outcome: string;
    detail: string;
  }): void;
}

/** The request header the server sets to the caller's address (any the client sent is replaced). */
export const PEER_HEADER = "x-conductor-peer";

/**
 * Who may call the server. Every request that reads or runs anything must carry the server's bearer token, on
 * loopback too, because every local user (and every program they run) can reach a loopback port, and the API runs
 * code and reads every recorded value. Without credentials a caller is anonymous, which only public webhooks,
 * `/healthz` and the debugger's pages accept.
 */
export interface AuthPolicy {
  /**
   * The identity a request's `Authorization` header proves, or why it proves none. Looks at the header only, so it
   * runs before the body is read. Synchronous for the token and API keys; a promise for an OIDC token (its
   * issuer's keys may have to be fetched).
   */
  authenticate(
    authorization: string | null | undefined,
  ): Identity | AuthProblem | Promise<Identity | AuthProblem>;
}

/** Why a request was refused: `unauthenticated` (no or wrong token) or `permission_denied` (not allowed). */
export interface AuthProblem {
  kind: "unauthenticated" | "permission_denied";
  message: string;
}

/** Whether a value is an {@link AuthProblem} rather than an identity. */
export function isAuthProblem(value: Identity | AuthProblem): value is AuthProblem {
  return "kind" in value;
}

/** Whether a bind address only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "");
  if (bare === "localhost") return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  if (isIP(bare) === 6) return bare === "::1" || /^::ffff:127\./i.test(bare);
  return false;
}

/** Creates the policy of a server whose callers prove themselves with `options.token`. */
export function createAuthPolicy(options: AuthPolicyOptions): AuthPolicy {
  if (options.token === "") throw new Error("an API server's token cannot be empty");
  const expected = Buffer.from(options.token, "utf8");
  const hint = options.tokenHint === undefined ? "" : ` (${options.tokenHint})`;
  return {
    authenticate(authorization) {
      const header = authorization ?? "";
      const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
      if (match === null) {
        return {
          kind: "unauthenticated",
          message:
            header === ""
              ? `this server requires a token: send the header "Authorization: Bearer <token>"${hint}`
              : 'the Authorization header must be "Bearer <token>"',
        };
      }
      const bearer = match[1]!;
      const given = Buffer.from(bearer, "utf8");
      if (given.length === expected.length && timingSafeEqual(given, expected)) return TOKEN_HOLDER;
      if (options.keys !== undefined && bearer.startsWith("cdk_")) {
        const key = options.keys.checkKey(bearer);
        if (typeof key === "string") {
          return {
            kind: "unauthenticated",
            message:
              key === "unknown"
                ? 'unknown API key in the "Authorization: Bearer" header (conductor keys list shows the project\'s keys)'
                : `the API key in the "Authorization: Bearer" header is ${key}; ask an admin of its namespace for a new one`,
          };
        }
        return {
          name: `key:${key.id}`,
          permissions: ROLE_PERMISSIONS[key.role],
          namespace: key.namespace,
          role: key.role,
        };
      }
      if (options.oidc !== undefined && looksLikeJwt(bearer)) return options.oidc(bearer);
      return { kind: "unauthenticated", message: 'wrong token in the "Authorization: Bearer" header' };
    },
  };
}

/** Why `identity` may not do what `permission` allows, or undefined when it may. */
export function authorize(identity: Identity, permission: Permission, what: string): AuthProblem | undefined {
  if (identity.permissions.has(permission)) return undefined;
  const who =
    identity.name === "anonymous"
      ? "an anonymous caller"
      : `caller "${identity.name}" (role ${identity.role})`;
  return {
    kind: "permission_denied",
    // The roles that may are named, so whoever reads it (a person in the debugger) knows which key to ask for.
    message: `${who} may not ${what}: it needs the "${permission}" permission, which the ${rolesWith(permission)} have`,
  };
}

/** The roles having `permission`, from least to most power, in words: `roles operator, editor and admin`. */
function rolesWith(permission: Permission): string {
  const roles = [...ROLES].reverse().filter((role) => ROLE_PERMISSIONS[role].has(permission));
  if (roles.length === 1) return `role ${roles[0]}`;
  return `roles ${roles.slice(0, -1).join(", ")} and ${roles.at(-1)}`;
}

/**
 * The `requestGate` of the Connect handlers: authenticates each call from its headers, before its body is read,
 * decompressed or parsed, checks the permission its method needs ({@link METHOD_PERMISSIONS}), and leaves the
 * identity in the call's context values under {@link IDENTITY}. Refuses with UNAUTHENTICATED (HTTP 401, with
 * `WWW-Authenticate`) or PERMISSION_DENIED.
 */
export function createRequestGate(
  policy: AuthPolicy,
  audit?: AuditSink,
): (context: HandlerContext) => void | Promise<void> {
  return (context) => {
    const result = policy.authenticate(context.requestHeader.get("authorization"));
    if (result instanceof Promise) return result.then((identity) => admit(context, identity));
    admit(context, result);
    return undefined;
  };

  function admit(context: HandlerContext, identity: Identity | AuthProblem): void {
    const method = context.method.name;
    const address = context.requestHeader.get(PEER_HEADER) ?? "";
    if (isAuthProblem(identity)) {
      audit?.record({
        identity: ANONYMOUS_CALLER,
        action: method,
        target: "",
        address,
        outcome: identity.kind,
        detail: identity.message,
      });
      context.responseHeader.set("WWW-Authenticate", 'Bearer realm="conductor"');
      throw new ConnectError(identity.message, Code.Unauthenticated);
    }
    const permission = METHOD_PERMISSIONS[method];
    const problem =
      permission === undefined
        ? { kind: "permission_denied", message: `method ${method} is open to no caller` }
        : authorize(identity, permission, `call ${method}`);
    if (problem !== undefined) {
      audit?.record({
        identity,
        action: method,
        target: "",
        address,
        outcome: problem.kind,
        detail: problem.message,
      });
      throw new ConnectError(problem.message, Code.PermissionDenied);
    }
    // Calls that change something are recorded with their target and outcome by the service (scopeService).
    context.values.set(IDENTITY, identity);
  }
}

/** How a caller whose credentials were refused is recorded. */
const ANONYMOUS_CALLER: Identity = {
  name: "anonymous",
  permissions: new Set(),
  namespace: "default",
  role: "none",
};
