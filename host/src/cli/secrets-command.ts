import { resolve } from "node:path";
import { findProject } from "../project/project-config.js";
import { namespaceProblem } from "../tenancy/roles.js";
import { SECRET_KEY_ENV, SecretKeyRing, secretNameProblem } from "../tenancy/secrets.js";
import type { TenancyStore } from "../tenancy/tenancy-store.js";
import { type CommandContext, EXIT, parseCommandArgs, reportError } from "./command.js";
import { localActor, openProjectTenancy } from "./keys-command.js";

/** The most bytes of a secret's value. */
const MAX_SECRET_BYTES = 64 * 1024;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > MAX_SECRET_BYTES) throw new Error(`a secret is at most ${MAX_SECRET_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  // One trailing newline (from echo or a heredoc) is not part of the value.
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

/**
 * `conductor secrets set|list|delete|rotate-key`: secrets of a namespace, encrypted with AES-256-GCM under the key
 * of `CONDUCTOR_SECRET_KEY` or of `.conductor/secret-keys`, referenced from node configs as `{ $secret: <name> }`.
 * A value is read from stdin (or an environment variable), never from the command line, where other users of the
 * machine could read it. Values are never printed.
 */
export default async function secrets(context: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(context, {
    allowPositionals: true,
    options: {
      json: { type: "boolean" },
      project: { type: "string" },
      namespace: { type: "string", short: "n" },
      "from-env": { type: "string" },
    },
  });
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const [action, name, ...extra] = positionals;
  const json = values.json === true;
  const namespace = values.namespace ?? "default";
  const usage = (message: string) => {
    context.stderr.write(`conductor secrets: ${message}\nrun \`conductor secrets --help\` for usage\n`);
    return EXIT.usage;
  };
  if (!["set", "list", "delete", "rotate-key"].includes(action ?? "")) {
    return usage(
      `expected set, list, delete or rotate-key, got ${action === undefined ? "nothing" : `"${action}"`}`,
    );
  }
  if (extra.length > 0)
    return usage(`unexpected ${extra.map((arg) => `"${arg}"`).join(" ")}: give values on stdin`);
  const nsProblem = namespaceProblem(namespace);
  if (nsProblem !== undefined) return usage(`--namespace: ${nsProblem}`);
  if (action === "set" || action === "delete") {
    if (name === undefined) return usage(`${action} takes the secret's name`);
    const problem = secretNameProblem(name);
    if (problem !== undefined) return usage(problem);
  }

  let store: TenancyStore;
  let projectDir: string;
  try {
    projectDir = (await findProject(values.project === undefined ? process.cwd() : resolve(values.project)))
      .dir;
    store = await openProjectTenancy(projectDir);
  } catch (error) {
    return reportError(context, error, json);
  }
  const audit = (what: string, target: string, ns: string, outcome: string, detail = "") =>
    store.audit({
      actor: localActor(),
      namespace: ns,
      action: what,
      target,
      address: "local",
      outcome,
      detail,
    });
  try {
    switch (action) {
      case "set": {
        const fromEnv = values["from-env"];
        const value = fromEnv === undefined ? await readStdin() : process.env[fromEnv];
        if (value === undefined || value === "") {
          return usage(
            fromEnv === undefined
              ? 'give the value on stdin, e.g. printf %s "$TOKEN" | conductor secrets set <name>'
              : `the environment variable ${fromEnv} is not set or empty`,
          );
        }
        const ring = SecretKeyRing.load(projectDir, { create: true })!;
        store.putSecret(namespace, name!, ring.seal(namespace, name!, value));
        audit("secrets.set", `secret:${name}`, namespace, "ok", `key ${ring.current.id}`);
        if (json) context.stdout.write(`${JSON.stringify({ namespace, name, keyId: ring.current.id })}\n`);
        else
          context.stdout.write(`secret "${name}" of namespace "${namespace}" set (key ${ring.current.id})\n`);
        return EXIT.ok;
      }
      case "delete": {
        const deleted = store.deleteSecret(namespace, name!);
        audit("secrets.delete", `secret:${name}`, namespace, deleted ? "ok" : "not_found");
        if (!deleted) {
          context.stderr.write(`conductor secrets: no secret "${name}" in namespace "${namespace}"\n`);
          return EXIT.notFound;
        }
        context.stdout.write(
          json
            ? `${JSON.stringify({ deleted: name, namespace })}\n`
            : `deleted secret "${name}" of namespace "${namespace}"\n`,
        );
        return EXIT.ok;
      }
      case "rotate-key": {
        // With the key file, a new key is added; with the environment, its owner put the new key first already.
        const added =
          process.env[SECRET_KEY_ENV] === undefined || process.env[SECRET_KEY_ENV] === ""
            ? SecretKeyRing.addKey(projectDir)
            : undefined;
        const ring = SecretKeyRing.load(projectDir, { create: true })!;
        let resealed = 0;
        for (const entry of store.listSecrets()) {
          const sealed = store.getSecret(entry.namespace, entry.name)!;
          if (sealed.keyId === ring.current.id) continue;
          const clear = ring.open(entry.namespace, entry.name, sealed);
          store.putSecret(entry.namespace, entry.name, ring.seal(entry.namespace, entry.name, clear));
          resealed++;
        }
        audit("secrets.rotate-key", `key:${ring.current.id}`, "default", "ok", `${resealed} re-encrypted`);
        const summary = `${added === undefined ? `current key ${ring.current.id} (from ${SECRET_KEY_ENV})` : `new key ${added}`}; ${resealed} secret${resealed === 1 ? "" : "s"} re-encrypted with it`;
        context.stdout.write(
          json ? `${JSON.stringify({ keyId: ring.current.id, resealed })}\n` : `${summary}\n`,
        );
        return EXIT.ok;
      }
      default: {
        const list = store
          .listSecrets()
          .filter((entry) => values.namespace === undefined || entry.namespace === namespace);
        if (json) context.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        else if (list.length === 0)
          context.stdout.write(
            'no secrets; set one with: printf %s "$VALUE" | conductor secrets set <name>\n',
          );
        else {
          for (const entry of list) {
            context.stdout.write(
              `${entry.namespace.padEnd(12)} ${entry.name.padEnd(32)} key ${entry.keyId.padEnd(6)} set ${new Date(entry.updatedAt).toISOString()}\n`,
            );
          }
        }
        return EXIT.ok;
      }
    }
  } catch (error) {
    return reportError(context, error, json);
  } finally {
    store.close();
  }
}
