import type { DatabaseSync } from "node:sqlite";
import { ConductorError } from "../errors.js";

/**
 * The journal's format, kept in SQLite's `user_version`: 1 had event batches only; 2 added whole executions in one
 * row and the compact event encoding; 3 added owners and leases (which process runs an execution), lineage (the
 * execution a re-run repeats, the parent of a sub-blueprint's execution, how often it was resumed). A journal of a
 * newer format is refused with a clear error rather than misread; older ones are upgraded on open.
 */
export const JOURNAL_FORMAT = 3;

const TABLES = `
CREATE TABLE IF NOT EXISTS blueprints (
  key TEXT PRIMARY KEY, source TEXT NOT NULL, document TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS executions (
  id TEXT PRIMARY KEY, blueprint_id TEXT NOT NULL, status TEXT NOT NULL, started_at INTEGER NOT NULL,
  finished_at INTEGER, duration_ms REAL, failure TEXT, last_seq INTEGER NOT NULL DEFAULT 0,
  blueprint_key TEXT, project_dir TEXT, parent_id TEXT, inputs TEXT
);
CREATE INDEX IF NOT EXISTS executions_by_start ON executions (started_at DESC);
CREATE TABLE IF NOT EXISTS event_batches (
  execution_id TEXT NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, events TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS event_batches_by_execution ON event_batches (execution_id, first_seq);
CREATE TABLE IF NOT EXISTS result_cache (
  key TEXT PRIMARY KEY, node_type TEXT NOT NULL, outputs TEXT NOT NULL, created_at INTEGER NOT NULL
);
`;

/** Columns added to `executions` after format 1, with the format that added them; added in place on upgrade. */
const ADDED_COLUMNS: readonly [name: string, definition: string][] = [
  ["events", "TEXT"],
  ["parent_node", "TEXT"],
  ["rerun_of", "TEXT"],
  ["rerun_from", "TEXT"],
  ["resumes", "INTEGER NOT NULL DEFAULT 0"],
  ["resumed_at", "INTEGER"],
  ["owner_id", "TEXT"],
  ["owner_host", "TEXT"],
  ["owner_pid", "INTEGER"],
  ["owner_started_at", "INTEGER"],
  ["owner_process", "TEXT"],
  ["owner_label", "TEXT"],
  ["lease_expires_at", "INTEGER"],
];

/** Indexes of format 3: the running executions (orphans are looked for among them) and a parent's children. */
const INDEXES = `
CREATE INDEX IF NOT EXISTS executions_running ON executions (started_at) WHERE status = 'running';
CREATE INDEX IF NOT EXISTS executions_by_parent ON executions (parent_id, parent_node) WHERE parent_id IS NOT NULL;
`;

/** How long a connection waits for another process's write lock before it reports the journal busy. */
export const BUSY_TIMEOUT_MS = 10_000;

/**
 * Prepares a freshly opened connection to the journal at `path`: waits rather than fails while other processes
 * write (busy timeout, set before anything else), turns on WAL, and creates or upgrades the tables in one write
 * transaction. Any number of processes may open one journal at the same moment (two `conductor serve` started
 * together on a fresh project): the first to take the write lock creates the tables, the others wait for it, then
 * find the format current and change nothing.
 */
export function prepareJournal(db: DatabaseSync, path: string, synchronous: "NORMAL" | "FULL"): void {
  db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS};`);
  // Switching to WAL takes an exclusive lock; another process opening the journal at the same moment may hold it.
  retryWhileBusy(() => db.exec("PRAGMA journal_mode = WAL;"));
  db.exec(`PRAGMA synchronous = ${synchronous};`);
  if (formatOf(db) === JOURNAL_FORMAT) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    // Read again under the write lock: another process may have upgraded the journal meanwhile.
    const format = formatOf(db);
    if (format > JOURNAL_FORMAT) {
      throw new ConductorError(
        "project_invalid",
        `the journal ${path} was written by a newer Conductor (journal format ${format}; this one reads up to ${JOURNAL_FORMAT}); upgrade Conductor, or move the journal aside to start a new one`,
      );
    }
    if (format < JOURNAL_FORMAT) migrate(db);
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

/** Creates what is missing, up to the current format. Executions running under an older format have no owner. */
function migrate(db: DatabaseSync): void {
  db.exec(TABLES);
  const columns = new Set(
    (db.prepare("PRAGMA table_info(executions)").all() as { name: string }[]).map((column) => column.name),
  );
  for (const [name, definition] of ADDED_COLUMNS) {
    if (!columns.has(name)) db.exec(`ALTER TABLE executions ADD COLUMN ${name} ${definition}`);
  }
  db.exec(INDEXES);
  db.exec(`PRAGMA user_version = ${JOURNAL_FORMAT}`);
}

function formatOf(db: DatabaseSync): number {
  return (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
}

/** Attempts of a statement that met a lock held past the busy timeout's first waits. */
const BUSY_ATTEMPTS = 50;

/**
 * Runs `statement`, trying again while SQLite reports the database busy or locked: some lock changes (entering WAL
 * mode) give up at once instead of waiting for the busy timeout. Bounded: a journal locked for good is reported.
 */
export function retryWhileBusy(statement: () => void): void {
  for (let attempt = 1; ; attempt++) {
    try {
      statement();
      return;
    } catch (error) {
      if (attempt >= BUSY_ATTEMPTS || !isBusy(error)) throw error;
      // A short synchronous pause: opening is synchronous, and the holder needs only its own short transaction.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20 * attempt);
    }
  }
}

function isBusy(error: unknown): boolean {
  const message = (error as Error).message ?? "";
  return /database is locked|database is busy|SQLITE_BUSY|SQLITE_LOCKED/i.test(message);
}
