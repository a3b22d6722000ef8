import type { Permission } from "../api/identity.js";

/**
 * The roles an API key (or a mapped OIDC subject) can have, from most to least power:
 * - `admin`: everything in its namespace, API keys and the audit trail included (the project's token is the admin
 *   of the default namespace);
 * - `editor`: what an operator does, and runs blueprints it sends inline, deploys versions and manages secrets (it
 *   changes what runs);
 * - `operator`: starts, cancels and reads executions of the namespace's blueprints;
 * - `viewer`: reads executions, blueprints, node types and values;
 * - `worker`: what a worker connection needs; this server takes no worker connections yet, so it may call no RPC.
 */
export type Role = "admin" | "editor" | "operator" | "viewer" | "worker";

export const ROLES: readonly Role[] = ["admin", "editor", "operator", "viewer", "worker"];

/** What each role may do (docs/security.md publishes this table, and the matrix test holds the server to it). */
export const ROLE_PERMISSIONS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  admin: new Set(["read", "run", "run-inline", "cancel", "deploy", "secrets", "manage"]),
  editor: new Set(["read", "run", "run-inline", "cancel", "deploy", "secrets"]),
  operator: new Set(["read", "run", "cancel"]),
  viewer: new Set(["read"]),
  worker: new Set(),
};

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** The namespace of the project's own blueprints, of executions started without a namespace, and of its token. */
export const DEFAULT_NAMESPACE = "default";

/**
 * A namespace's name: lowercase letters, digits and `-`, starting with a letter, at most 63 characters (a DNS
 * label), so it can never be a path trick (`..`, `/`) or an invisible difference.
 */
const NAMESPACE_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** Why `name` cannot be a namespace, or undefined when it can. */
export function namespaceProblem(name: string): string | undefined {
  if (NAMESPACE_NAME.test(name)) return undefined;
  return `a namespace is 1 to 63 lowercase letters, digits and "-", starting with a letter; got ${JSON.stringify(name.slice(0, 80))}`;
}
