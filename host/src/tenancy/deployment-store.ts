import { join } from "node:path";
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { retryWhileBusy } from "../store/journal-schema.js";
import { ensurePrivateDirectory, ensurePrivateFile } from "../store/private-files.js";
import { TENANCY_FILE } from "./tenancy-store.js";

/**
 * The deployments' own tables of `.conductor/tenancy.db`, created when missing (the tenancy format stays 1: a
 * Conductor without deployments never reads them). Versions are immutable: triggers refuse to change or delete one.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS deployments (
  namespace TEXT NOT NULL, blueprint_id TEXT NOT NULL, version INTEGER NOT NULL, digest TEXT NOT NULL,
  code_digest TEXT NOT NULL, code_json TEXT NOT NULL, document TEXT NOT NULL, deployed_at INTEGER NOT NULL,
  deployed_by TEXT NOT NULL, source TEXT NOT NULL, message TEXT NOT NULL,
  PRIMARY KEY (namespace, blueprint_id, version)
);
CREATE UNIQUE INDEX IF NOT EXISTS deployments_by_digest ON deployments (namespace, blueprint_id, digest);
CREATE TRIGGER IF NOT EXISTS deployments_no_update BEFORE UPDATE ON deployments
  BEGIN SELECT RAISE(ABORT, 'a deployed version is immutable'); END;
CREATE TRIGGER IF NOT EXISTS deployments_no_delete BEFORE DELETE ON deployments
  BEGIN SELECT RAISE(ABORT, 'a deployed version is immutable'); END;
CREATE TABLE IF NOT EXISTS deployment_current (
  namespace TEXT NOT NULL, blueprint_id TEXT NOT NULL, version INTEGER NOT NULL, changed_at INTEGER NOT NULL,
  PRIMARY KEY (namespace, blueprint_id)
);
CREATE TABLE IF NOT EXISTS execution_deployments (
  execution_id TEXT PRIMARY KEY, namespace TEXT NOT NULL, blueprint_id TEXT NOT NULL, version INTEGER NOT NULL,
  digest TEXT NOT NULL
);
`;

/** Columns added after the first format, with their default for versions deployed before them. */
const ADDED_COLUMNS: ReadonlyArray<[string, string]> = [["closure_json", "TEXT NOT NULL DEFAULT '{}'"]];

/** Who deployed: `cli` (`conductor deploy` on the machine) or `api` (the Deploy RPC, by a caller with a role). */
export type DeploymentSource = "cli" | "api";

/** One immutable version of a blueprint in a namespace. */
export interface Deployment {
  namespace: string;
  blueprintId: string;
  /** 1, 2, ... per blueprint and namespace, in the order versions were first deployed. */
  version: number;
  /** SHA-256 of the document (as parsed) and of the code identity: what makes this version this version. */
  digest: string;
  /** SHA-256 of {@link code}. */
  codeDigest: string;
  /** Runtime name → SHA-256 of its code when deployed (code-identity.ts). */
  code: Record<string, string>;
  /** The blueprint as deployed, as its text (JSON or YAML). */
  document: string;
  /**
   * The sub-blueprints it runs, pinned when it was deployed: every blueprint its `blueprint.<id>` nodes reach, to
   * any depth, by id (see {@link PinnedSubBlueprint}). Empty for a blueprint without sub-blueprints.
   */
  subBlueprints: Record<string, PinnedSubBlueprint>;
  /** Milliseconds since the epoch. */
  deployedAt: number;
  /** The caller: `cli:<user>`, `token`, `key:<id>`, `oidc:<sub>`. */
  deployedBy: string;
  source: DeploymentSource;
  message: string;
  /** Whether it is the version "latest" starts run (the newest deployed, or the one rolled back to). */
  current: boolean;
}

/**
 * A sub-blueprint as a version pinned it: the text its id named when the version was deployed, the namespace's
 * current deployed version of it (`version` > 0) or, never deployed, the project's file (`version` 0).
 */
export interface PinnedSubBlueprint {
  /** The deployed version the text is, or 0 for the project's file. */
  version: number;
  /** Where the text came from, for messages: `version 3` or the file's path relative to the project. */
  from: string;
  document: string;
}

/** The version an execution ran. */
export interface ExecutionDeployment {
  namespace: string;
  blueprintId: string;
  version: number;
  digest: string;
}

/** What to publish: {@link DeploymentStore.publish} numbers it, unless an equal version exists. */
export type NewDeployment = Omit<Deployment, "version" | "current">;

/**
 * Immutable, content-addressed versions of blueprints per namespace, the version "latest" means for each, and the
 * version each execution started from a deployment ran.
 */
export interface DeploymentStore {
  /**
   * Publishes a version and makes it current. When a version with the same digest exists it is made current
   * instead, and `created` is false.
   */
  publish(deployment: NewDeployment): { deployment: Deployment; created: boolean };
  /** Versions of a namespace, by blueprint then version; of one blueprint when `blueprintId` is given. */
  list(namespace: string, blueprintId?: string): Deployment[];
  get(namespace: string, blueprintId: string, version: number): Deployment | undefined;
  current(namespace: string, blueprintId: string): Deployment | undefined;
  /** Makes an existing version current; undefined when there is no such version. */
  setCurrent(namespace: string, blueprintId: string, version: number): Deployment | undefined;
  recordExecution(executionId: string, deployment: ExecutionDeployment): void;
  /** The version an execution ran, when it was started from a deployment (a sub-blueprint's child was not). */
  executionDeployment(executionId: string): ExecutionDeployment | undefined;
  /**
   * A number that changes whenever any process of the project deployed or rolled back (SQLite's data_version, plus
   * this connection's own writes), so caches of "latest" know when to look again.
   */
  generation(): number;
  close(): void;
}

interface DeploymentRow {
  namespace: string;
  blueprint_id: string;
  version: number;
  digest: string;
  code_digest: string;
  code_json: string;
  document: string;
  deployed_at: number;
  deployed_by: string;
  source: string;
  message: string;
  closure_json: string;
  current_version: number | null;
}

const SELECT = `SELECT d.*, c.version AS current_version FROM deployments d
  LEFT JOIN deployment_current c ON c.namespace = d.namespace AND c.blueprint_id = d.blueprint_id`;

function deploymentOf(row: DeploymentRow): Deployment {
  return {
    namespace: row.namespace,
    blueprintId: row.blueprint_id,
    version: row.version,
    digest: row.digest,
    codeDigest: row.code_digest,
    code: JSON.parse(row.code_json) as Record<string, string>,
    document: row.document,
    subBlueprints: JSON.parse(row.closure_json) as Record<string, PinnedSubBlueprint>,
    deployedAt: row.deployed_at,
    deployedBy: row.deployed_by,
    source: row.source === "api" ? "api" : "cli",
    message: row.message,
    current: row.current_version === row.version,
  };
}

/**
 * Opens the deployments of the project at `projectDir` (in `.conductor/tenancy.db`, creating the tables). Given the
 * tenancy store's connection (`shared`), it uses that one and leaves it open on close: because its own audit writes
 * then do not count as another connection's, "latest" is looked up again only when another process changed the
 * database, which keeps a warm start from re-reading the database on every request.
 */
export function openDeploymentStore(projectDir: string, shared?: DatabaseSync): DeploymentStore {
  if (shared !== undefined) {
    createTables(shared);
    return deploymentStore(shared, false);
  }
  const { DatabaseSync } = process.getBuiltinModule("node:sqlite") as typeof import("node:sqlite");
  ensurePrivateDirectory(join(projectDir, ".conductor"));
  const path = join(projectDir, TENANCY_FILE);
  ensurePrivateFile(path);
  const db = new DatabaseSync(path);
  db.exec("PRAGMA busy_timeout = 10000;");
  retryWhileBusy(() => db.exec("PRAGMA journal_mode = WAL;"));
  db.exec("PRAGMA synchronous = NORMAL;");
  for (const suffix of ["-wal", "-shm"]) ensurePrivateFile(`${path}${suffix}`);
  createTables(db);
  return deploymentStore(db, true);
}

function createTables(db: DatabaseSync): void {
  retryWhileBusy(() => db.exec("BEGIN IMMEDIATE"));
  try {
    db.exec(SCHEMA);
    const columns = new Set(
      (db.prepare("PRAGMA table_info(deployments)").all() as Array<{ name: string }>).map((row) => row.name),
    );
    for (const [name, type] of ADDED_COLUMNS) {
      if (!columns.has(name)) db.exec(`ALTER TABLE deployments ADD COLUMN ${name} ${type}`);
    }
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

function deploymentStore(db: DatabaseSync, owned: boolean): DeploymentStore {
  const statements = new Map<string, StatementSync>();
  const sql = (text: string): StatementSync => {
    let statement = statements.get(text);
    if (statement === undefined) {
      statement = db.prepare(text);
      statements.set(text, statement);
    }
    return statement;
  };
  let ownWrites = 0;
  const transaction = <T>(body: () => T): T => {
    db.exec("BEGIN IMMEDIATE");
    try {
      const result = body();
      db.exec("COMMIT");
      ownWrites++;
      return result;
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  };
  const get = (namespace: string, blueprintId: string, version: number) => {
    const row = sql(`${SELECT} WHERE d.namespace = ? AND d.blueprint_id = ? AND d.version = ?`).get(
      namespace,
      blueprintId,
      version,
    ) as DeploymentRow | undefined;
    return row === undefined ? undefined : deploymentOf(row);
  };
  const makeCurrent = (namespace: string, blueprintId: string, version: number) =>
    sql(
      "INSERT OR REPLACE INTO deployment_current (namespace, blueprint_id, version, changed_at) VALUES (?, ?, ?, ?)",
    ).run(namespace, blueprintId, version, Date.now());

  return {
    publish(input) {
      return transaction(() => {
        const same = sql(
          "SELECT version FROM deployments WHERE namespace = ? AND blueprint_id = ? AND digest = ?",
        ).get(input.namespace, input.blueprintId, input.digest) as { version: number } | undefined;
        if (same !== undefined) {
          makeCurrent(input.namespace, input.blueprintId, same.version);
          return { deployment: get(input.namespace, input.blueprintId, same.version)!, created: false };
        }
        const last = sql(
          "SELECT MAX(version) AS version FROM deployments WHERE namespace = ? AND blueprint_id = ?",
        ).get(input.namespace, input.blueprintId) as { version: number | null };
        const version = (last.version ?? 0) + 1;
        sql(
          `INSERT INTO deployments (namespace, blueprint_id, version, digest, code_digest, code_json, document,
             closure_json, deployed_at, deployed_by, source, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          input.namespace,
          input.blueprintId,
          version,
          input.digest,
          input.codeDigest,
          JSON.stringify(input.code),
          input.document,
          JSON.stringify(input.subBlueprints),
          input.deployedAt,
          input.deployedBy,
          input.source,
          input.message,
        );
        makeCurrent(input.namespace, input.blueprintId, version);
        return { deployment: get(input.namespace, input.blueprintId, version)!, created: true };
      });
    },
    list(namespace, blueprintId) {
      const rows = (blueprintId === undefined
        ? sql(`${SELECT} WHERE d.namespace = ? ORDER BY d.blueprint_id, d.version`).all(namespace)
        : sql(`${SELECT} WHERE d.namespace = ? AND d.blueprint_id = ? ORDER BY d.version`).all(
            namespace,
            blueprintId,
          )) as unknown as DeploymentRow[];
      return rows.map(deploymentOf);
    },
    get,
    current(namespace, blueprintId) {
      const row = sql(`${SELECT} WHERE d.namespace = ? AND d.blueprint_id = ? AND d.version = c.version`).get(
        namespace,
        blueprintId,
      ) as DeploymentRow | undefined;
      return row === undefined ? undefined : deploymentOf(row);
    },
    setCurrent(namespace, blueprintId, version) {
      return transaction(() => {
        if (get(namespace, blueprintId, version) === undefined) return undefined;
        makeCurrent(namespace, blueprintId, version);
        return get(namespace, blueprintId, version);
      });
    },
    recordExecution(executionId, deployment) {
      sql(
        "INSERT OR REPLACE INTO execution_deployments (execution_id, namespace, blueprint_id, version, digest) VALUES (?, ?, ?, ?, ?)",
      ).run(executionId, deployment.namespace, deployment.blueprintId, deployment.version, deployment.digest);
    },
    executionDeployment(executionId) {
      const row = sql(
        "SELECT namespace, blueprint_id, version, digest FROM execution_deployments WHERE execution_id = ?",
      ).get(executionId) as
        | { namespace: string; blueprint_id: string; version: number; digest: string }
        | undefined;
      return row === undefined
        ? undefined
        : {
            namespace: row.namespace,
            blueprintId: row.blueprint_id,
            version: row.version,
            digest: row.digest,
          };
    },
    generation() {
      return (sql("PRAGMA data_version").get() as { data_version: number }).data_version * 1e6 + ownWrites;
    },
    close() {
      if (owned) db.close();
    },
  };
}
