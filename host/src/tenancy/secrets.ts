import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { FailureInfo, InvocationRequest, InvocationSink } from "@conductor/sdk/protocol";
import { ConductorError } from "../errors.js";
import type { RuntimeConnection } from "../runtime/runtime-connection.js";
import { ensurePrivateDirectory, ensurePrivateFile, writePrivateFileWhole } from "../store/private-files.js";
import { hasSecretReference, replaceSecretReferences, secretPlaceholder } from "./secret-references.js";

export {
  hasSecretReference,
  replaceSecretReferences,
  secretPlaceholder,
  secretReference,
} from "./secret-references.js";

/** The key file of a project whose secrets key is not given in the environment. */
export const SECRET_KEY_FILE = ".conductor/secret-keys";
/** The environment variable that gives the secrets keys: `<id>:<base64 of 32 bytes>`, newest first, comma-separated. */
export const SECRET_KEY_ENV = "CONDUCTOR_SECRET_KEY";

/** A secret's name: letters, digits, `.`, `_`, `-`, at most 100 characters, starting with a letter or digit. */
const SECRET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function secretNameProblem(name: string): string | undefined {
  if (SECRET_NAME.test(name)) return undefined;
  return `a secret's name is 1 to 100 letters, digits, ".", "_" and "-", starting with a letter or digit; got ${JSON.stringify(name.slice(0, 120))}`;
}

/** One encryption key of the ring. */
interface SecretKey {
  id: string;
  key: Buffer;
}

/** A secret as stored: AES-256-GCM under one key of the ring, bound to its namespace and name. */
export interface SealedSecret {
  keyId: string;
  iv: Buffer;
  data: Buffer;
  tag: Buffer;
}

/**
 * The keys secrets are encrypted with: from `CONDUCTOR_SECRET_KEY` (`k2:<base64>,k1:<base64>`, newest first), else
 * from the project's key file (one `<id>:<base64>` a line, newest first; made with one key when first needed, mode
 * 0600). Secrets are sealed with the newest key and opened with the key they name, so adding a key (rotation)
 * leaves older secrets readable until they are re-sealed.
 */
export class SecretKeyRing {
  private constructor(
    readonly keys: readonly SecretKey[],
    readonly source: string,
  ) {}

  static load(
    projectDir: string,
    options: { create: boolean; env?: NodeJS.ProcessEnv },
  ): SecretKeyRing | undefined {
    const fromEnv = (options.env ?? process.env)[SECRET_KEY_ENV];
    if (fromEnv !== undefined && fromEnv.trim() !== "") {
      return new SecretKeyRing(parseKeys(fromEnv.split(","), SECRET_KEY_ENV), SECRET_KEY_ENV);
    }
    const file = join(projectDir, SECRET_KEY_FILE);
    if (!existsSync(file)) {
      if (!options.create) return undefined;
      ensurePrivateDirectory(join(projectDir, ".conductor"));
      // Another process starting together may make it first: its key is the project's then.
      writePrivateFileWhole(file, `${newKeyLine("k1")}\n`, { exclusive: true });
    }
    ensurePrivateFile(file);
    return new SecretKeyRing(parseKeys(readFileSync(file, "utf8").split("\n"), file), file);
  }

  /** Adds a new newest key to the project's key file (not to the environment, which its owner changes). */
  static addKey(projectDir: string): string {
    const file = join(projectDir, SECRET_KEY_FILE);
    const existing = existsSync(file) ? parseKeys(readFileSync(file, "utf8").split("\n"), file) : [];
    const numbers = existing.map((key) => Number(/^k(\d+)$/.exec(key.id)?.[1] ?? 0));
    const id = `k${Math.max(0, ...numbers) + 1}`;
    const lines = [newKeyLine(id), ...existing.map((key) => `${key.id}:${key.key.toString("base64")}`)];
    ensurePrivateDirectory(join(projectDir, ".conductor"));
    writePrivateFileWhole(file, `${lines.join("\n")}\n`, { exclusive: false });
    return id;
  }

  get current(): SecretKey {
    return this.keys[0]!;
  }

  seal(namespace: string, name: string, clear: string): SealedSecret {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.current.key, iv);
    cipher.setAAD(aad(namespace, name));
    const data = Buffer.concat([cipher.update(clear, "utf8"), cipher.final()]);
    return { keyId: this.current.id, iv, data, tag: cipher.getAuthTag() };
  }

  open(namespace: string, name: string, sealed: SealedSecret): string {
    const key = this.keys.find((candidate) => candidate.id === sealed.keyId);
    if (key === undefined) {
      throw new ConductorError(
        "project_invalid",
        `secret "${name}" of namespace "${namespace}" is sealed with key "${sealed.keyId}", which ${this.source} does not hold`,
      );
    }
    const decipher = createDecipheriv("aes-256-gcm", key.key, sealed.iv);
    decipher.setAAD(aad(namespace, name));
    decipher.setAuthTag(sealed.tag);
    try {
      return Buffer.concat([decipher.update(sealed.data), decipher.final()]).toString("utf8");
    } catch {
      throw new ConductorError(
        "project_invalid",
        `secret "${name}" of namespace "${namespace}" does not decrypt with key "${sealed.keyId}": it was altered, or the key is not the one it was sealed with`,
      );
    }
  }
}

/** Binds a sealed secret to where it belongs, so a row copied to another name or namespace does not open. */
function aad(namespace: string, name: string): Buffer {
  return Buffer.from(`conductor-secret\0${namespace}\0${name}`, "utf8");
}

function newKeyLine(id: string): string {
  return `${id}:${randomBytes(32).toString("base64")}`;
}

function parseKeys(lines: string[], source: string): SecretKey[] {
  const keys: SecretKey[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([A-Za-z0-9_-]{1,32}):([A-Za-z0-9+/=_-]+)$/.exec(line);
    const key = match === null ? undefined : Buffer.from(match[2]!, "base64");
    if (match === null || key === undefined || key.length !== 32) {
      throw new ConductorError(
        "project_invalid",
        `${source}: each key is "<id>:<base64 of 32 random bytes>" (make one with: openssl rand -base64 32); found one that is not`,
      );
    }
    keys.push({ id: match[1]!, key });
  }
  if (keys.length === 0) throw new ConductorError("project_invalid", `${source} holds no key`);
  return keys;
}

/** Gives a secret's clear value for an execution (of that execution's namespace), or throws naming what is wrong. */
export type SecretResolver = (name: string, executionId: string) => string;

/**
 * Wraps a runtime connection so that the secret references in the configs of the steps it runs are replaced by
 * their clear values just before they are sent, and so that those values, should a node echo them in a log, a
 * failure, a chunk or its outputs, come back as `[secret <name>]`: the journal, events, the API and the debugger
 * only ever see the reference. A secret that cannot be resolved fails the invocation, naming it.
 */
export function withSecrets(connection: RuntimeConnection, resolve: SecretResolver): RuntimeConnection {
  const wrapper: RuntimeConnection = {
    get name() {
      return connection.name;
    },
    get description() {
      return connection.description;
    },
    get nodeTypes() {
      return connection.nodeTypes;
    },
    get supportsSteps() {
      return connection.supportsSteps;
    },
    get checksOutputs() {
      return connection.checksOutputs === true;
    },
    findNodeType: (type) => connection.findNodeType(type),
    validateConfig: (type, config) => connection.validateConfig(type, config),
    close: () => connection.close(),
    execute(request: InvocationRequest, sink: InvocationSink) {
      if (!request.steps.some((step) => hasSecretReference(step.config)))
        return connection.execute(request, sink);
      const used = new Map<string, string>();
      let steps: InvocationRequest["steps"];
      try {
        steps = request.steps.map((step) => ({
          ...step,
          config: replaceSecretReferences(step.config, (name) => {
            const clear = resolve(name, request.executionId);
            if (clear !== "") used.set(clear, name);
            return clear;
          }),
        }));
      } catch (error) {
        sink.rejected({ type: "secret.unavailable", message: (error as Error).message, retryable: false });
        return { cancel() {} };
      }
      return connection.execute({ ...request, steps }, redactingSink(sink, used));
    },
  };
  const health = connection.health;
  if (health !== undefined) wrapper.health = () => health.call(connection);
  return wrapper;
}

function redactingSink(sink: InvocationSink, used: ReadonlyMap<string, string>): InvocationSink {
  const clean = (value: unknown): unknown => {
    if (typeof value === "string") {
      let text = value;
      for (const [clear, name] of used) {
        if (text.includes(clear)) text = text.split(clear).join(secretPlaceholder(name));
      }
      return text;
    }
    if (typeof value !== "object" || value === null || ArrayBuffer.isView(value)) return value;
    if (Array.isArray(value)) return value.map(clean);
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = clean(item);
    return out;
  };
  return {
    started: (step) => sink.started(step),
    log: (step, level, message, fields) =>
      sink.log(
        step,
        level,
        clean(message) as string,
        fields === undefined ? undefined : (clean(fields) as Record<string, unknown>),
      ),
    progress: (step, fraction, message) => sink.progress(step, fraction, clean(message) as string),
    chunk: (step, port, value) => sink.chunk(step, port, clean(value)),
    heartbeat: (step, details) => sink.heartbeat(step, clean(details)),
    completed: (step, outputs, durationUs) =>
      sink.completed(step, clean(outputs) as Record<string, unknown>, durationUs),
    failed: (step, failure, durationUs) => sink.failed(step, clean(failure) as FailureInfo, durationUs),
    cancelled: (step, reason) => sink.cancelled(step, clean(reason) as string),
    rejected: (failure) => sink.rejected(clean(failure) as FailureInfo),
  };
}

/** The secrets of a project, for its conductor: opened on first use, closed with the conductor. */
export interface ProjectSecrets {
  resolve: SecretResolver;
  close(): void;
}

/**
 * Resolves `{ $secret: <name> }` for an execution from the project's tenancy database, in the namespace of the
 * execution (the default one for executions started on the machine), with the project's key ring.
 */
export function projectSecrets(
  projectDir: string,
  open: (projectDir: string) => {
    namespaceOfExecution(executionId: string): string;
    getSecret(namespace: string, name: string): SealedSecret | undefined;
    close(): void;
  },
): ProjectSecrets {
  let store: ReturnType<typeof open> | undefined;
  let ring: SecretKeyRing | undefined;
  return {
    resolve(name, executionId) {
      store ??= open(projectDir);
      const namespace = store.namespaceOfExecution(executionId);
      const sealed = store.getSecret(namespace, name);
      if (sealed === undefined) {
        throw new ConductorError(
          "inputs_invalid",
          `secret "${name}" is not set in namespace "${namespace}"; set it with: conductor secrets set ${name}${namespace === "default" ? "" : ` --namespace ${namespace}`}`,
        );
      }
      ring ??= SecretKeyRing.load(projectDir, { create: false });
      if (ring === undefined) {
        throw new ConductorError(
          "project_invalid",
          `secret "${name}" cannot be decrypted: neither ${SECRET_KEY_ENV} nor ${SECRET_KEY_FILE} gives a key`,
        );
      }
      return ring.open(namespace, name, sealed);
    },
    close() {
      store?.close();
    },
  };
}
