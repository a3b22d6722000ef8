import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { join } from "node:path";
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { ConductorError } from "../errors.js";
import { retryWhileBusy } from "../store/journal-schema.js";
import { ensurePrivateDirectory, ensurePrivateFile } from "../store/private-files.js";
import { isRole, namespaceProblem, type Role } from "./roles.js";
import type { SealedSecret } from "./secrets.js";

/** Where a project keeps its API keys, the namespaces of its executions and its audit trail. */
export const TENANCY_FILE = ".conductor/tenancy.db";

/** The format of the tenancy database, in SQLite's `user_version`. */
const TENANCY_FORMAT = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, namespace TEXT NOT NULL, role TEXT NOT NULL, hash TEXT NOT NULL,
  created_at INTEGER NOT NULL, expires_at INTEGER, revoked_at INTEGER
);
CREATE TABLE IF NOT EXISTS execution_namespaces (
  execution_id TEXT PRIMARY KEY, namespace TEXT NOT NULL, started_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS executions_by_namespace ON execution_namespaces (namespace, started_at DESC);
CREATE TABLE IF NOT EXISTS upload_namespaces (
  sha256 TEXT NOT NULL, namespace TEXT NOT NULL, PRIMARY KEY (sha256, namespace)
);
CREATE TABLE IF NOT EXISTS secrets (
  namespace TEXT NOT NULL, name TEXT NOT NULL, key_id TEXT NOT NULL, iv BLOB NOT NULL, data BLOB NOT NULL,
  tag BLOB NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (namespace, name)
);
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL, namespace TEXT NOT NULL, action TEXT NOT NULL,
  target TEXT NOT NULL, address TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
`;

/** An API key as listed: never its secret, which is shown once when it is made and stored only hashed. */
export interface ApiKeyInfo {
  id: string;
  name: string;
  namespace: string;
  role: Role;
  createdAt: number;
  expiresAt?: number;
  revokedAt?: number;
}

/** A key as {@link TenancyStore.createKey} makes it: its info and, this once, the key itself. */
export interface CreatedApiKey extends ApiKeyInfo {
  /** `cdk_<id>_<secret>`: what the caller sends as `Authorization: Bearer <key>`. */
  key: string;
}

/** One row of the audit trail. */
export interface AuditEntry {
  seq: number;
  /** Milliseconds since the epoch. */
  at: number;
  /** Who: `token`, `key:<id>`, `oidc:<subject>`, `anonymous`, or `cli:<user>` for commands run on the machine. */
  actor: string;
  namespace: string;
  /** What: an RPC's name, `webhook`, `keys.create`, ... */
  action: string;
  /** What it acted on: a blueprint, an execution, a key id; empty when nothing in particular. */
  target: string;
  /** The caller's address, or `local` for commands run on the machine. */
  address: string;
  /** `allowed`, `ok`, or the refusal: `unauthenticated`, `permission_denied`, `not_found`, ... */
  outcome: string;
  detail: string;
  prevHash: string;
  hash: string;
}

/** What {@link TenancyStore.verifyAudit} found. */
export interface AuditVerification {
  ok: boolean;
  entries: number;
  /** The hash of the last entry: keep it elsewhere to detect a trail cut short later. */
  head: string;
  /** The first entry whose hash or link does not match, and why. */
  broken?: { seq: number; reason: string };
}

/** Why a bearer key was not accepted. */
export type KeyRefusal = "unknown" | "expired" | "revoked";

/**
 * The project's multi-tenancy state: API keys (hashed), the namespace of each execution and upload made outside
 * the default namespace, and the append-only, hash-chained audit trail. Kept apart from the journal, in
 * `.conductor/tenancy.db` (mode 0600), so a journal can be copied or shared without the keys.
 */
export interface TenancyStore {
  readonly path: string;
  /** Its SQLite connection, for the deployments' tables of the same file (deployment-store.ts). */
  readonly database: DatabaseSync;
  createKey(options: { name: string; namespace: string; role: Role; expiresAt?: number }): CreatedApiKey;
  listKeys(): ApiKeyInfo[];
  /** Revokes a key; gives false when there is no such key. */
  revokeKey(id: string, at?: number): boolean;
  /** The key a bearer value proves, or why it proves none. */
  checkKey(bearer: string, now?: number): ApiKeyInfo | KeyRefusal;
  /** Records the namespace of an execution (only for namespaces other than the default one). */
  setExecutionNamespace(executionId: string, namespace: string, startedAt: number): void;
  /** The namespace of an execution (of its root, for a sub-blueprint's child `<root>/<node>`); default if unknown. */
  namespaceOfExecution(executionId: string): string;
  /** The ids of a namespace's executions, newest first (not for the default namespace, which is the rest). */
  executionsIn(namespace: string, limit: number): string[];
  /** Every execution id recorded outside the default namespace. */
  namespacedExecutions(): ReadonlySet<string>;
  addUpload(sha256: string, namespace: string): void;
  hasUpload(sha256: string, namespace: string): boolean;
  /** Whether any namespace uploaded this value. */
  uploadKnown(sha256: string): boolean;
  /** Stores a sealed secret (replacing one of the same name in the namespace). */
  putSecret(namespace: string, name: string, sealed: SealedSecret): void;
  getSecret(namespace: string, name: string): SealedSecret | undefined;
  /** Secrets by namespace and name, with the key each is sealed with; never their values. */
  listSecrets(): { namespace: string; name: string; keyId: string; updatedAt: number }[];
  deleteSecret(namespace: string, name: string): boolean;
  audit(entry: Omit<AuditEntry, "seq" | "at" | "prevHash" | "hash"> & { at?: number }): void;
  /** Appends several entries in one transaction, in order. */
  auditMany(
    entries: readonly (Omit<AuditEntry, "seq" | "at" | "prevHash" | "hash"> & { at?: number })[],
  ): void;
  listAudit(options?: { limit?: number; namespace?: string }): AuditEntry[];
  verifyAudit(): AuditVerification;
  close(): void;
}

const KEY_FORMAT = /^cdk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** Opens (creating when missing) the tenancy database of the project at `projectDir`. */
export async function openTenancyStore(projectDir: string): Promise<TenancyStore> {
  return openTenancyStoreSync(projectDir);
}

/** {@link openTenancyStore}, synchronously (for the conductor, which opens it when a node first needs a secret). */
export function openTenancyStoreSync(projectDir: string): TenancyStore {
  const { DatabaseSync } = process.getBuiltinModule("node:sqlite") as typeof import("node:sqlite");
  ensurePrivateDirectory(join(projectDir, ".conductor"));
  const path = join(projectDir, TENANCY_FILE);
  ensurePrivateFile(path);
  const db = new DatabaseSync(path);
  db.exec("PRAGMA busy_timeout = 10000;");
  // Entering WAL gives up at once when another process opens the file at the same moment (two servers started
  // together on a fresh project), so it is retried, as the journal's is.
  retryWhileBusy(() => db.exec("PRAGMA journal_mode = WAL;"));
  // Committed entries survive the process; a power loss may lose the last ones (as the journal's NORMAL mode).
  db.exec("PRAGMA synchronous = NORMAL;");
  for (const suffix of ["-wal", "-shm"]) ensurePrivateFile(`${path}${suffix}`);
  const format = (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (format > TENANCY_FORMAT) {
    db.close();
    throw new ConductorError(
      "project_invalid",
      `${path} was written by a newer Conductor (tenancy format ${format}; this one reads up to ${TENANCY_FORMAT}); upgrade Conductor`,
    );
  }
  if (format !== TENANCY_FORMAT) {
    // One writer creates the tables; a process opening it at the same moment waits, then finds them there.
    retryWhileBusy(() => db.exec("BEGIN IMMEDIATE"));
    try {
      db.exec(SCHEMA);
      db.exec(`PRAGMA user_version = ${TENANCY_FORMAT}`);
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }
  return tenancyStore(db, path);
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The hash of an audit entry: over every field and the previous entry's hash. */
export function auditHash(entry: Omit<AuditEntry, "hash">): string {
  return sha256(
    JSON.stringify([
      entry.seq,
      entry.at,
      entry.actor,
      entry.namespace,
      entry.action,
      entry.target,
      entry.address,
      entry.outcome,
      entry.detail,
      entry.prevHash,
    ]),
  );
}

const GENESIS = "0".repeat(64);

interface KeyRow {
  id: string;
  name: string;
  namespace: string;
  role: string;
  hash: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

interface AuditRow {
  seq: number;
  at: number;
  actor: string;
  namespace: string;
  action: string;
  target: string;
  address: string;
  outcome: string;
  detail: string;
  prev_hash: string;
  hash: string;
}

function keyInfo(row: KeyRow): ApiKeyInfo {
  return {
    id: row.id,
    name: row.name,
    namespace: row.namespace,
    role: isRole(row.role) ? row.role : "viewer",
    createdAt: row.created_at,
    ...(row.expires_at === null ? {} : { expiresAt: row.expires_at }),
    ...(row.revoked_at === null ? {} : { revokedAt: row.revoked_at }),
  };
}

function auditEntry(row: AuditRow): AuditEntry {
  return {
    seq: row.seq,
    at: row.at,
    actor: row.actor,
    namespace: row.namespace,
    action: row.action,
    target: row.target,
    address: row.address,
    outcome: row.outcome,
    detail: row.detail,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function tenancyStore(db: DatabaseSync, path: string): TenancyStore {
  const statements = new Map<string, StatementSync>();
  const sql = (text: string): StatementSync => {
    let statement = statements.get(text);
    if (statement === undefined) {
      statement = db.prepare(text);
      statements.set(text, statement);
    }
    return statement;
  };
  const keyCache = new Map<string, KeyRow>();
  let keyCacheVersion = -1;
  const rootOf = (executionId: string) => executionId.split("/", 1)[0]!;
  // Execution ids outside the default namespace, kept in memory: most lookups are of default executions, which
  // then cost no query. Other processes (another server of the project) add rows too, so a miss asks the table.
  const namespaced = new Map<string, string>();
  for (const row of sql("SELECT execution_id, namespace FROM execution_namespaces").all() as {
    execution_id: string;
    namespace: string;
  }[]) {
    namespaced.set(row.execution_id, row.namespace);
  }

  return {
    path,
    database: db,
    createKey({ name, namespace, role, expiresAt }) {
      const problem = namespaceProblem(namespace);
      if (problem !== undefined) throw new ConductorError("inputs_invalid", problem);
      if (!/^[\x20-\x7e]{1,100}$/.test(name)) {
        throw new ConductorError(
          "inputs_invalid",
          `a key's name is 1 to 100 printable ASCII characters; got ${JSON.stringify(name.slice(0, 120))}`,
        );
      }
      const id = randomBytes(8).toString("hex");
      const key = `cdk_${id}_${randomBytes(32).toString("base64url")}`;
      const createdAt = Date.now();
      sql(
        "INSERT INTO api_keys (id, name, namespace, role, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ).run(id, name, namespace, role, sha256(key), createdAt, expiresAt ?? null);
      return {
        id,
        name,
        namespace,
        role,
        createdAt,
        ...(expiresAt === undefined ? {} : { expiresAt }),
        key,
      };
    },
    listKeys() {
      return (sql("SELECT * FROM api_keys ORDER BY created_at, id").all() as unknown as KeyRow[]).map(
        keyInfo,
      );
    },
    revokeKey(id, at = Date.now()) {
      keyCache.clear();
      const result = sql("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").run(
        at,
        id,
      );
      if (result.changes > 0) return true;
      return sql("SELECT 1 FROM api_keys WHERE id = ?").get(id) !== undefined;
    },
    checkKey(bearer, now = Date.now()) {
      // Keys proved since the table last changed are kept: SQLite's data_version moves when another connection
      // (conductor keys, another server) commits, and then they are looked up again, so a revocation holds at once.
      const version = (sql("PRAGMA data_version").get() as { data_version: number }).data_version;
      if (version !== keyCacheVersion) {
        keyCache.clear();
        keyCacheVersion = version;
      }
      let row = keyCache.get(bearer);
      if (row === undefined) {
        const match = KEY_FORMAT.exec(bearer);
        if (match === null) return "unknown";
        row = sql("SELECT * FROM api_keys WHERE id = ?").get(match[1]!) as KeyRow | undefined;
        if (row === undefined) return "unknown";
        const given = Buffer.from(sha256(bearer), "hex");
        if (!timingSafeEqual(given, Buffer.from(row.hash, "hex"))) return "unknown";
        if (keyCache.size >= 1_000) keyCache.clear();
        keyCache.set(bearer, row);
      }
      if (row.revoked_at !== null) return "revoked";
      if (row.expires_at !== null && row.expires_at <= now) return "expired";
      return keyInfo(row);
    },
    setExecutionNamespace(executionId, namespace, startedAt) {
      sql(
        "INSERT OR REPLACE INTO execution_namespaces (execution_id, namespace, started_at) VALUES (?, ?, ?)",
      ).run(executionId, namespace, startedAt);
      namespaced.set(executionId, namespace);
    },
    namespaceOfExecution(executionId) {
      const root = rootOf(executionId);
      const known = namespaced.get(root);
      if (known !== undefined) return known;
      const row = sql("SELECT namespace FROM execution_namespaces WHERE execution_id = ?").get(root) as
        | { namespace: string }
        | undefined;
      if (row === undefined) return "default";
      namespaced.set(root, row.namespace);
      return row.namespace;
    },
    executionsIn(namespace, limit) {
      return (
        sql(
          "SELECT execution_id FROM execution_namespaces WHERE namespace = ? ORDER BY started_at DESC LIMIT ?",
        ).all(namespace, limit) as { execution_id: string }[]
      ).map((row) => row.execution_id);
    },
    namespacedExecutions() {
      for (const row of sql("SELECT execution_id, namespace FROM execution_namespaces").all() as {
        execution_id: string;
        namespace: string;
      }[]) {
        namespaced.set(row.execution_id, row.namespace);
      }
      return new Set(namespaced.keys());
    },
    addUpload(sha, namespace) {
      sql("INSERT OR IGNORE INTO upload_namespaces (sha256, namespace) VALUES (?, ?)").run(sha, namespace);
    },
    hasUpload(sha, namespace) {
      return (
        sql("SELECT 1 FROM upload_namespaces WHERE sha256 = ? AND namespace = ?").get(sha, namespace) !==
        undefined
      );
    },
    putSecret(namespace, name, sealed) {
      sql(
        "INSERT OR REPLACE INTO secrets (namespace, name, key_id, iv, data, tag, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ).run(namespace, name, sealed.keyId, sealed.iv, sealed.data, sealed.tag, Date.now());
    },
    getSecret(namespace, name) {
      const row = sql("SELECT key_id, iv, data, tag FROM secrets WHERE namespace = ? AND name = ?").get(
        namespace,
        name,
      ) as { key_id: string; iv: Uint8Array; data: Uint8Array; tag: Uint8Array } | undefined;
      if (row === undefined) return undefined;
      return {
        keyId: row.key_id,
        iv: Buffer.from(row.iv),
        data: Buffer.from(row.data),
        tag: Buffer.from(row.tag),
      };
    },
    listSecrets() {
      return (
        sql("SELECT namespace, name, key_id, updated_at FROM secrets ORDER BY namespace, name").all() as {
          namespace: string;
          name: string;
          key_id: string;
          updated_at: number;
        }[]
      ).map((row) => ({
        namespace: row.namespace,
        name: row.name,
        keyId: row.key_id,
        updatedAt: row.updated_at,
      }));
    },
    deleteSecret(namespace, name) {
      return sql("DELETE FROM secrets WHERE namespace = ? AND name = ?").run(namespace, name).changes > 0;
    },
    uploadKnown(sha) {
      return sql("SELECT 1 FROM upload_namespaces WHERE sha256 = ?").get(sha) !== undefined;
    },
    audit(entry) {
      this.auditMany([entry]);
    },
    auditMany(entries) {
      if (entries.length === 0) return;
      // The last hash is read and the rows written in one write transaction, so two processes appending at once
      // still make one chain.
      db.exec("BEGIN IMMEDIATE");
      try {
        const last = sql("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").get() as
          | { seq: number; hash: string }
          | undefined;
        let seq = last?.seq ?? 0;
        let prevHash = last?.hash ?? GENESIS;
        const insert = sql(
          "INSERT INTO audit (seq, at, actor, namespace, action, target, address, outcome, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        );
        for (const entry of entries) {
          const row = {
            seq: ++seq,
            at: entry.at ?? Date.now(),
            actor: entry.actor,
            namespace: entry.namespace,
            action: entry.action,
            target: entry.target,
            address: entry.address,
            outcome: entry.outcome,
            detail: entry.detail,
            prevHash,
          };
          prevHash = auditHash(row);
          insert.run(
            row.seq,
            row.at,
            row.actor,
            row.namespace,
            row.action,
            row.target,
            row.address,
            row.outcome,
            row.detail,
            row.prevHash,
            prevHash,
          );
        }
        db.exec("COMMIT");
      } catch (error) {
        db.exec("ROLLBACK");
        throw error;
      }
    },
    listAudit({ limit = 100, namespace } = {}) {
      const rows = (namespace === undefined
        ? sql("SELECT * FROM audit ORDER BY seq DESC LIMIT ?").all(limit)
        : sql("SELECT * FROM audit WHERE namespace = ? ORDER BY seq DESC LIMIT ?").all(
            namespace,
            limit,
          )) as unknown as AuditRow[];
      return rows.map(auditEntry).reverse();
    },
    verifyAudit() {
      let prev = GENESIS;
      let expectedSeq = 1;
      let entries = 0;
      for (const row of sql("SELECT * FROM audit ORDER BY seq").iterate() as Iterable<AuditRow>) {
        const entry = auditEntry(row);
        const broken = (reason: string): AuditVerification => ({
          ok: false,
          entries,
          head: prev,
          broken: { seq: entry.seq, reason },
        });
        if (entry.seq !== expectedSeq) {
          return broken(`entry ${expectedSeq} is missing (the next one is ${entry.seq}): rows were deleted`);
        }
        if (entry.prevHash !== prev) {
          return broken(
            "its link to the entry before does not match: an entry before it was changed or removed",
          );
        }
        if (auditHash(entry) !== entry.hash)
          return broken("its hash does not match its content: it was edited");
        prev = entry.hash;
        expectedSeq++;
        entries++;
      }
      return { ok: true, entries, head: prev };
    },
    close() {
      db.close();
    },
  };
}
