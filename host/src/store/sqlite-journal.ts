import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { parseJsonText, stringifyJson } from "@conductor/sdk/protocol";
import type { BlueprintDocument } from "../blueprint/blueprint-schema.js";
import { ConductorError } from "../errors.js";
import type { Durability, ResultCache } from "../scheduler/execution.js";
import type { ExecutionEvent } from "../scheduler/execution-events.js";
import { CHECKPOINT_SAFETY_NET_PAGES, Checkpointer } from "./checkpointer.js";
import {
  applyEvent,
  type ExecutionDetail,
  type ExecutionFilter,
  type ExecutionStore,
  type ExecutionSummary,
} from "./execution-store.js";
import { JournalWatch } from "./journal-watch.js";
import { EventCodec } from "./stored-value.js";

/** Where an execution came from, recorded so that it can be resumed by another process. */
export interface ExecutionOrigin {
  /** A key of the blueprint's content, recorded once per distinct blueprint. */
  blueprintKey: string;
  projectDir: string;
  /** The execution that started this one as a sub-blueprint. */
  parentId?: string;
}

/** What resuming an execution needs from the journal. */
export interface RecordedExecution {
  executionId: string;
  status: ExecutionSummary["status"];
  blueprint: { source: string; document: BlueprintDocument };
  projectDir: string;
  inputs: Record<string, unknown>;
  events: ExecutionEvent[];
}

/** Options of {@link openJournal}. */
export interface JournalOptions {
  /** The database file, e.g. `<project>/.conductor/journal.db`. */
  path: string;
  /** `normal` (default) survives a crash of the host process; `full` also a crash of the machine (fsync per commit). */
  durability?: "normal" | "full";
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS blueprints (
  key TEXT PRIMARY KEY, source TEXT NOT NULL, document TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS executions (
  id TEXT PRIMARY KEY, blueprint_id TEXT NOT NULL, status TEXT NOT NULL, started_at INTEGER NOT NULL,
  finished_at INTEGER, duration_ms REAL, failure TEXT, last_seq INTEGER NOT NULL DEFAULT 0,
  blueprint_key TEXT, project_dir TEXT, parent_id TEXT, inputs TEXT, events TEXT
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

/**
 * The journal's format, kept in SQLite's `user_version`: 1 had event batches only; 2 added whole executions in one
 * row and the compact event encoding. A journal of a newer format is refused with a clear error rather than
 * misread; older ones are upgraded on open (they are read as they are).
 */
export const JOURNAL_FORMAT = 2;

/** Commits after which checkpoints move to their own thread (see {@link Checkpointer}). */
export const CHECKPOINT_THREAD_AFTER_COMMITS = 100;

/**
 * The durable journal: every execution, node attempt and result, in SQLite through Node's built-in `node:sqlite`
 * (no native addon), in WAL mode. Events are appended to memory and written in batches, one transaction per
 * event-loop turn (group commit), so the hot path never waits for a write; `flush()` writes at once, and the host
 * calls it before anything is acknowledged: before a node that may have side effects starts, and before an
 * execution's result is returned. The same database holds the persistent result cache.
 */
export class Journal implements ExecutionStore, Durability {
  private readonly db: DatabaseSync;
  private readonly codec: EventCodec;
  private queue: ExecutionEvent[] = [];
  private cacheQueue: [string, string, string][] = [];
  private readonly origins = new Map<string, ExecutionOrigin>();
  private checkpointer: Checkpointer | undefined;
  private checkpointerStarted = false;
  /** Commits so far, until the checkpointing thread starts. */
  private commits = 0;
  /** Executions whose start was recorded and whose end was not yet: they may add to the current batch. */
  private open = 0;
  /** The write scheduled for the end of this turn, while there is one. */
  private written: Promise<void> | undefined;
  private readonly statements: Record<
    | "recordExecution"
    | "startExecution"
    | "resumeExecution"
    | "finishExecution"
    | "progressExecution"
    | "insertBatch"
    | "getCache"
    | "putCache"
    | "putBlueprint",
    StatementSync
  >;
  readonly cache: ResultCache;
  /** Notices of changes to the journal's files, by any process (see {@link JournalWatch}). */
  readonly changes: JournalWatch;

  private constructor(
    db: DatabaseSync,
    /** The journal's file, for messages. */
    private readonly path: string,
    blobDir: string,
    /** Starts the checkpointing thread, on the first write: a journal opened only to be read needs none. */
    private readonly startCheckpointer: () => Checkpointer | undefined,
  ) {
    this.db = db;
    this.changes = new JournalWatch(path);
    this.codec = new EventCodec(blobDir);
    this.statements = {
      recordExecution: db.prepare(
        "INSERT OR REPLACE INTO executions (id, blueprint_id, status, started_at, finished_at, duration_ms, failure, last_seq, blueprint_key, project_dir, parent_id, inputs, events) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      ),
      startExecution: db.prepare(
        "INSERT OR REPLACE INTO executions (id, blueprint_id, status, started_at, last_seq, blueprint_key, project_dir, parent_id, inputs) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?)",
      ),
      resumeExecution: db.prepare(
        "UPDATE executions SET status = 'running', finished_at = NULL, last_seq = ? WHERE id = ?",
      ),
      finishExecution: db.prepare(
        "UPDATE executions SET status = ?, finished_at = ?, duration_ms = ?, failure = ?, last_seq = ? WHERE id = ?",
      ),
      progressExecution: db.prepare("UPDATE executions SET last_seq = ? WHERE id = ?"),
      insertBatch: db.prepare(
        "INSERT OR REPLACE INTO event_batches (execution_id, first_seq, last_seq, events) VALUES (?, ?, ?, ?)",
      ),
      getCache: db.prepare("SELECT outputs FROM result_cache WHERE key = ?"),
      putCache: db.prepare(
        "INSERT OR REPLACE INTO result_cache (key, node_type, outputs, created_at) VALUES (?, ?, ?, ?)",
      ),
      putBlueprint: db.prepare("INSERT OR IGNORE INTO blueprints (key, source, document) VALUES (?, ?, ?)"),
    };
    this.cache = {
      get: (key) => {
        const row = this.statements.getCache.get(key) as { outputs: string } | undefined;
        return row === undefined
          ? undefined
          : (this.codec.reviveValue(parseJsonText(row.outputs)) as Record<string, unknown>);
      },
      put: (key, nodeType, outputs) => {
        this.cacheQueue.push([key, nodeType, stringifyJson(this.codec.storableValue(outputs))]);
        this.scheduleFlush();
      },
    };
  }

  /** Opens (creating when needed) the journal at `options.path`. */
  static async open(options: JournalOptions): Promise<Journal> {
    const { DatabaseSync } = await import("node:sqlite");
    mkdirSync(dirname(options.path), { recursive: true });
    const synchronous = options.durability === "full" ? "FULL" : "NORMAL";
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(options.path);
      db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${synchronous}; PRAGMA busy_timeout = 5000;`);
      const { user_version: format } = db.prepare("PRAGMA user_version").get() as { user_version: number };
      if (format > JOURNAL_FORMAT) {
        db.close();
        throw new ConductorError(
          "project_invalid",
          `the journal ${options.path} was written by a newer Conductor (journal format ${format}; this one reads up to ${JOURNAL_FORMAT}); upgrade Conductor, or move the journal aside to start a new one`,
        );
      }
      db.exec(SCHEMA);
      const columns = db.prepare("PRAGMA table_info(executions)").all() as { name: string }[];
      if (!columns.some((column) => column.name === "events"))
        db.exec("ALTER TABLE executions ADD COLUMN events TEXT");
      if (format < JOURNAL_FORMAT) db.exec(`PRAGMA user_version = ${JOURNAL_FORMAT}`);
    } catch (error) {
      if (error instanceof ConductorError) throw error;
      throw new ConductorError(
        "journal_failed",
        `cannot open the journal ${options.path}: ${(error as Error).message}; check that its directory is writable and the file is a Conductor journal`,
        { cause: error },
      );
    }
    return new Journal(db, options.path, join(dirname(options.path), "blobs"), () => {
      const checkpointer = Checkpointer.start(options.path, synchronous);
      // Checkpoints run on their own thread; this connection checkpoints only if that thread falls far behind.
      if (checkpointer !== undefined) db.exec(`PRAGMA wal_autocheckpoint = ${CHECKPOINT_SAFETY_NET_PAGES};`);
      return checkpointer;
    });
  }

  /** Whether checkpoints have moved to their own thread yet. */
  get checkpointing(): boolean {
    return this.checkpointer !== undefined;
  }

  get pending(): boolean {
    return this.queue.length > 0 || this.cacheQueue.length > 0;
  }

  /** Records where an execution comes from, before its first event. */
  recordOrigin(executionId: string, origin: ExecutionOrigin): void {
    this.origins.set(executionId, origin);
  }

  /** Records a blueprint's document once, under its key. */
  recordBlueprint(key: string, source: string, document: BlueprintDocument): void {
    this.statements.putBlueprint.run(key, source, stringifyJson(document));
  }

  append(event: ExecutionEvent): void {
    this.queue.push(event);
    if (event.type === "execution.started") this.open++;
    else if (event.type === "execution.finished") this.open--;
    this.scheduleFlush();
  }

  /**
   * Resolves once everything recorded so far is written. While other executions are running, callers within one
   * event-loop turn share one transaction (group commit): 32 executions finishing together cost one commit, not 32.
   * When none is, nobody else can join the batch this turn: it is written at once, without waiting for the turn to
   * end.
   */
  flush(): Promise<void> {
    if (!this.pending) return Promise.resolve();
    if (this.open <= 0) {
      try {
        this.write();
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error);
      }
    }
    this.scheduleFlush();
    return this.written!;
  }

  list(filter: ExecutionFilter = {}): ExecutionSummary[] {
    this.write();
    const where: string[] = [];
    const parameters: (string | number)[] = [];
    if (filter.blueprintId !== undefined) {
      where.push("blueprint_id = ?");
      parameters.push(filter.blueprintId);
    }
    if (filter.status !== undefined) {
      where.push("status = ?");
      parameters.push(filter.status);
    }
    parameters.push(filter.limit ?? 100);
    const rows = this.db
      .prepare(
        `SELECT id, blueprint_id, status, started_at, finished_at, duration_ms, failure FROM executions ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY started_at DESC LIMIT ?`,
      )
      .all(...parameters) as unknown as ExecutionRow[];
    return rows.map(summaryOfRow);
  }

  get(executionId: string): ExecutionDetail | undefined {
    let detail: ExecutionDetail | undefined;
    for (const event of this.events(executionId)) detail = applyEvent(detail, event);
    return detail;
  }

  events(executionId: string, afterSeq = 0): ExecutionEvent[] {
    this.write();
    // An execution recorded in one batch keeps its events in its own row; others in batches, in order.
    const rows = this.db
      .prepare(
        "SELECT 0 AS batch, 0 AS first_seq, events FROM executions WHERE id = ? AND events IS NOT NULL AND last_seq > ? UNION ALL SELECT 1, first_seq, events FROM event_batches WHERE execution_id = ? AND last_seq > ? ORDER BY batch, first_seq",
      )
      .all(executionId, afterSeq, executionId, afterSeq) as unknown as { events: string }[];
    return rows
      .flatMap((row) => this.codec.decode(row.events, executionId))
      .filter((event) => event.seq > afterSeq);
  }

  /** Executions that were running when their host stopped. */
  unfinished(): string[] {
    this.write();
    return (
      this.db.prepare("SELECT id FROM executions WHERE status = 'running' ORDER BY started_at").all() as {
        id: string;
      }[]
    ).map((row) => row.id);
  }

  /** Everything needed to resume or re-run an execution. */
  recorded(executionId: string): RecordedExecution | undefined {
    this.write();
    const row = this.db
      .prepare(
        "SELECT e.id, e.status, e.project_dir, e.inputs, b.source, b.document FROM executions e LEFT JOIN blueprints b ON b.key = e.blueprint_key WHERE e.id = ?",
      )
      .get(executionId) as
      | {
          id: string;
          status: string;
          project_dir: string | null;
          inputs: string | null;
          source: string | null;
          document: string | null;
        }
      | undefined;
    if (row === undefined) return undefined;
    if (row.document === null || row.source === null) {
      throw new ConductorError(
        "journal_failed",
        `the journal ${this.path} has no blueprint recorded for execution "${executionId}"; the journal is damaged, or was written by a Conductor that did not record blueprints`,
      );
    }
    return {
      executionId: row.id,
      status: row.status as ExecutionSummary["status"],
      blueprint: { source: row.source, document: parseJsonText(row.document) as BlueprintDocument },
      projectDir: row.project_dir ?? "",
      inputs:
        row.inputs === null
          ? {}
          : (this.codec.reviveValue(parseJsonText(row.inputs)) as Record<string, unknown>),
      events: this.events(executionId),
    };
  }

  async close(): Promise<void> {
    this.changes.close();
    this.write();
    await this.checkpointer?.stop();
    this.db.close();
  }

  private scheduleFlush(): void {
    if (this.written !== undefined) return;
    this.written = new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        this.written = undefined;
        try {
          this.write();
          resolve();
        } catch (error) {
          reject(error);
        }
      });
    });
    // A failed background write is reported to whoever awaits it; nobody may, so do not crash the host for it.
    this.written.catch(() => {});
  }

  /** One transaction for everything queued: a batch row per execution, and the executions' rows. */
  private write(): void {
    if (this.queue.length === 0 && this.cacheQueue.length === 0) return;
    const events = this.queue;
    const cached = this.cacheQueue;
    this.queue = [];
    this.cacheQueue = [];
    // A thread costs a one-shot command (`conductor run`) more than its few checkpoints would (starting and
    // stopping one adds ~30 ms): it starts once the journal has committed enough to be in steady use. Until then
    // this connection checkpoints as SQLite does by default, every 1,000 pages of log.
    if (!this.checkpointerStarted && ++this.commits >= CHECKPOINT_THREAD_AFTER_COMMITS) {
      this.checkpointerStarted = true;
      this.checkpointer = this.startCheckpointer();
    }
    const byExecution = new Map<string, ExecutionEvent[]>();
    for (const event of events) {
      let list = byExecution.get(event.executionId);
      if (list === undefined) {
        list = [];
        byExecution.set(event.executionId, list);
      }
      list.push(event);
    }
    this.db.exec("BEGIN");
    try {
      for (const [executionId, list] of byExecution) {
        const first = list[0]!;
        const last = list[list.length - 1]!;
        if (
          first.type === "execution.started" &&
          first.resumed !== true &&
          last.type === "execution.finished"
        ) {
          // The whole execution, start to end, in one batch (the common case of a short one): one row.
          const origin = this.origins.get(executionId);
          this.origins.delete(executionId);
          this.statements.recordExecution.run(
            executionId,
            first.blueprintId,
            last.status,
            first.at,
            last.at,
            last.durationMs,
            last.failure === undefined ? null : stringifyJson(this.codec.storableValue(last.failure)),
            last.seq,
            origin?.blueprintKey ?? null,
            origin?.projectDir ?? null,
            origin?.parentId ?? null,
            stringifyJson(this.codec.storableValue(first.inputs)),
            this.codec.encode(list),
          );
          continue;
        }
        for (const event of list) {
          if (event.type === "execution.started") {
            if (event.resumed === true) this.statements.resumeExecution.run(event.seq, executionId);
            else {
              const origin = this.origins.get(executionId);
              this.origins.delete(executionId);
              this.statements.startExecution.run(
                executionId,
                event.blueprintId,
                event.at,
                event.seq,
                origin?.blueprintKey ?? null,
                origin?.projectDir ?? null,
                origin?.parentId ?? null,
                stringifyJson(this.codec.storableValue(event.inputs)),
              );
            }
          } else if (event.type === "execution.finished") {
            this.statements.finishExecution.run(
              event.status,
              event.at,
              event.durationMs,
              event.failure === undefined ? null : stringifyJson(this.codec.storableValue(event.failure)),
              event.seq,
              executionId,
            );
          }
        }
        this.statements.insertBatch.run(executionId, list[0]!.seq, last.seq, this.codec.encode(list));
        if (last.type !== "execution.finished") this.statements.progressExecution.run(last.seq, executionId);
      }
      const now = Date.now();
      for (const [key, nodeType, outputs] of cached)
        this.statements.putCache.run(key, nodeType, outputs, now);
      this.db.exec("COMMIT");
    } catch (error) {
      this.db.exec("ROLLBACK");
      throw new ConductorError(
        "journal_failed",
        `cannot write the journal ${this.path}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }
}

interface ExecutionRow {
  id: string;
  blueprint_id: string;
  status: string;
  started_at: number;
  finished_at: number | null;
  duration_ms: number | null;
  failure: string | null;
}

function summaryOfRow(row: ExecutionRow): ExecutionSummary {
  const summary: ExecutionSummary = {
    executionId: row.id,
    blueprintId: row.blueprint_id,
    status: row.status as ExecutionSummary["status"],
    startedAt: row.started_at,
  };
  if (row.finished_at !== null) summary.finishedAt = row.finished_at;
  if (row.duration_ms !== null) summary.durationMs = row.duration_ms;
  if (row.failure !== null)
    summary.failure = parseJsonText(row.failure) as NonNullable<ExecutionSummary["failure"]>;
  return summary;
}
