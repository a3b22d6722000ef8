import { userInfo } from "node:os";
import { resolve } from "node:path";
import { findProject } from "../project/project-config.js";
import { isRole, namespaceProblem, ROLES } from "../tenancy/roles.js";
import { openTenancyStore, type TenancyStore } from "../tenancy/tenancy-store.js";
import { type CommandContext, EXIT, parseCommandArgs, reportError } from "./command.js";

/** Opens the tenancy database of the project a command names (--project, else the one around the cwd). */
export async function openProjectTenancy(project: string | undefined): Promise<TenancyStore> {
  const found = await findProject(project === undefined ? process.cwd() : resolve(project));
  return openTenancyStore(found.dir);
}

/** The actor of commands run on the machine, for the audit trail. */
export function localActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return "cli";
  }
}

const DURATION = /^(\d+)([smhd])$/;
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * `conductor keys create|list|revoke`: API keys of the project, each a role in one namespace. A new key is printed
 * once; only its SHA-256 is kept (in `.conductor/tenancy.db`). Every change is recorded in the audit trail.
 */
export default async function keys(context: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(context, {
    allowPositionals: true,
    options: {
      json: { type: "boolean" },
      project: { type: "string" },
      namespace: { type: "string", short: "n" },
      role: { type: "string" },
      name: { type: "string" },
      expires: { type: "string" },
    },
  });
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const [action, ...rest] = positionals;
  const json = values.json === true;
  const usage = (message: string) => {
    context.stderr.write(`conductor keys: ${message}\nrun \`conductor keys --help\` for usage\n`);
    return EXIT.usage;
  };
  if (action !== "create" && action !== "list" && action !== "revoke") {
    return usage(`expected create, list or revoke, got ${action === undefined ? "nothing" : `"${action}"`}`);
  }
  let expiresAt: number | undefined;
  if (action === "create") {
    if (values.role === undefined || !isRole(values.role)) {
      return usage(
        `--role must be one of ${ROLES.join(", ")}, got ${values.role === undefined ? "nothing" : `"${values.role}"`}`,
      );
    }
    const problem = namespaceProblem(values.namespace ?? "default");
    if (problem !== undefined) return usage(`--namespace: ${problem}`);
    if (values.expires !== undefined) {
      const match = DURATION.exec(values.expires);
      if (match === null)
        return usage(`--expires takes a duration such as 30d, 12h, 15m; got "${values.expires}"`);
      expiresAt = Date.now() + Number(match[1]) * UNIT_MS[match[2]!]!;
    }
  }
  if (action === "revoke" && rest.length !== 1)
    return usage("revoke takes one key id (conductor keys list shows them)");

  let store: TenancyStore;
  try {
    store = await openProjectTenancy(values.project);
  } catch (error) {
    return reportError(context, error, json);
  }
  try {
    const audit = (what: string, target: string, namespace: string, outcome: string, detail = "") =>
      store.audit({
        actor: localActor(),
        namespace,
        action: what,
        target,
        address: "local",
        outcome,
        detail,
      });
    if (action === "create") {
      const role = values.role as (typeof ROLES)[number];
      const namespace = values.namespace ?? "default";
      const created = store.createKey({
        name: values.name ?? `${role} of ${namespace}`,
        namespace,
        role,
        ...(expiresAt === undefined ? {} : { expiresAt }),
      });
      audit("keys.create", `key:${created.id}`, namespace, "ok", `role ${role}`);
      if (json) context.stdout.write(`${JSON.stringify(created, null, 2)}\n`);
      else {
        context.stdout.write(`${created.key}\n`);
        context.stderr.write(
          `key ${created.id}: ${role} of namespace "${namespace}"${expiresAt === undefined ? "" : `, expires ${new Date(expiresAt).toISOString()}`}. It is shown this once; send it as "Authorization: Bearer <key>".\n`,
        );
      }
      return EXIT.ok;
    }
    if (action === "revoke") {
      const id = rest[0]!;
      const known = store.listKeys().find((key) => key.id === id);
      if (known === undefined || !store.revokeKey(id)) {
        audit("keys.revoke", `key:${id.slice(0, 40)}`, "default", "not_found");
        context.stderr.write(`conductor keys: no key "${id}" (conductor keys list shows them)\n`);
        return EXIT.notFound;
      }
      audit("keys.revoke", `key:${id}`, known.namespace, "ok");
      if (json) context.stdout.write(`${JSON.stringify({ revoked: id })}\n`);
      else context.stdout.write(`revoked key ${id}\n`);
      return EXIT.ok;
    }
    const list = store.listKeys();
    if (json) {
      context.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      return EXIT.ok;
    }
    if (list.length === 0) {
      context.stdout.write("no API keys; make one with `conductor keys create --role viewer`\n");
      return EXIT.ok;
    }
    const now = Date.now();
    for (const key of list) {
      const state =
        key.revokedAt !== undefined
          ? "revoked"
          : key.expiresAt !== undefined && key.expiresAt <= now
            ? "expired"
            : key.expiresAt !== undefined
              ? `expires ${new Date(key.expiresAt).toISOString()}`
              : "active";
      context.stdout.write(
        `${key.id}  ${key.namespace.padEnd(12)} ${key.role.padEnd(8)} ${state.padEnd(32)} ${key.name}\n`,
      );
    }
    return EXIT.ok;
  } catch (error) {
    return reportError(context, error, json);
  } finally {
    store.close();
  }
}
