import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { parseJsonText, stringifyJson } from "@conductor/sdk/protocol";
import type { BlueprintDocument } from "../blueprint/blueprint-schema.js";
import { ConductorError } from "../errors.js";
import type { Durability, ResultCache } from "../scheduler/execution.js";
import type { ExecutionEvent } from "../scheduler/execution-events.js";
import { CHECKPOINT_SAFETY_NET_PAGES, Checkpointer } from "./checkpointer.js";
import { ExecutionLeases, type LeaseOptions } from "./execution-leases.js";
import {
  type ExecutionRow,
  lineageValues,
  OWNER_COLUMNS,
  SUMMARY_COLUMNS,
  summaryOfRow,
} from "./execution-row.js";
import {
  applyEvent,
  type ExecutionDetail,
  type ExecutionFilter,
  type ExecutionStore,
  type ExecutionSummary,
} from "./execution-store.js";
import { prepareJournal } from "./journal-schema.js";
import { JournalWatch } from "./journal-watch.js";
import {
  ensurePrivateFile,
  PRIVATE_DIRECTORY_MODE,
  PRIVATE_FILE_MODE,
  tightenMode,
} from "./private-files.js";
import { EventCodec } from "./stored-value.js";

/** Where an execution came from, recorded so that it can be resumed by another process. */
export interface ExecutionOrigin {
  /** A key of the blueprint's content, recorded once per distinct blueprint. */
  blueprintKey: string;
  projectDir: string;
}

/** What resuming an execution needs from the journal. */
export interface RecordedExecution {
  executionId: string;
  status: ExecutionSummary["status"];
  blueprint: { source: string; document: BlueprintDocument };
  projectDir: string;
  /** The execution and node that started this one as a sub-blueprint. */
  parent?: { executionId: string; nodeId: string };
  inputs: Record<string, unknown>;
  events: ExecutionEvent[];
}

/** Options of {@link openJournal}. */
export interface JournalOptions {
  /** The database file, e.g. `<project>/.conductor/journal.db`. */
  path: string;
  /** `normal` (default) survives a crash of the host process; `full` also a crash of the machine (fsync per commit). */
  durability?: "normal" | "full";
  /** The leases by which this process owns the executions it runs (see {@link ExecutionLeases}). */
  lease?: LeaseOptions;
}

export { JOURNAL_FORMAT } from "./journal-schema.js";

/** Commits after which checkpoints move to their own thread (see {@link Checkpointer}). */
export const CHECKPOINT_THREAD_AFTER_COMMITS = 100;

/**
 * The durable journal: every execution, node attempt and result, in SQLite through Node's built-in `node:sqlite`
 * (no native addon), in WAL mode. Events are appended to memory and written in batches, one transaction per
 * event-loop turn (group commit), so the hot path never waits for a write; `flush()` writes at once, and the host
 * calls it before anything is acknowledged: before a node that may have side effects starts, and before an
 * execution's result is returned. The same database holds the persistent result cache.
 *
 * Longer than most files (about 550 lines) because it is one class whose write path (group commit, writes fenced
 * by each execution's owner) and read path share the queue and the prepared statements. What stands on its own
 * lives beside it: the tables and upgrades (journal-schema), owners and leases (execution-owner,
 * execution-leases), rows (execution-row), stored values (stored-value).
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
  /** Told how long each commit took, in seconds (the `conductor_journal_commit_seconds` metric). */
  onCommit: ((seconds: number) => void) | undefined;
  /** Executions whose start was recorded and whose end was not yet: they may add to the current batch. */
  private open = 0;
  /** Executions another process took over from this one: their events are no longer written. */
  private readonly lost = new Set<string>();
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
  /** Who runs the executions recorded as running: this process's leases, and other processes' (see there). */
  readonly leases: ExecutionLeases;

  private constructor(
    db: DatabaseSync,
    /** The journal's file, for messages. */
    private readonly path: string,
    blobDir: string,
    lease: LeaseOptions | undefined,
    /** Starts the checkpointing thread, on the first write: a journal opened only to be read needs none. */
    private readonly startCheckpointer: () => Checkpointer | undefined,
  ) {
    this.db = db;
    this.changes = new JournalWatch(path);
    this.codec = new EventCodec(blobDir);
    this.leases = new ExecutionLeases(db, lease);
    // Writes of an execution that has a row are fenced by its owner: a process whose lease another process took
    // over changes nothing (`changes` is 0), and learns that it lost the execution.
    this.statements = {
      recordExecution: db.prepare(
        `INSERT OR REPLACE INTO executions (id, blueprint_id, status, started_at, finished_at, duration_ms, failure, last_seq, blueprint_key, project_dir, parent_id, parent_node, rerun_of, rerun_from, inputs, events, ${OWNER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      startExecution: db.prepare(
        `INSERT OR REPLACE INTO executions (id, blueprint_id, status, started_at, last_seq, blueprint_key, project_dir, parent_id, parent_node, rerun_of, rerun_from, inputs, ${OWNER_COLUMNS}) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      resumeExecution: db.prepare(
        "UPDATE executions SET status = 'running', finished_at = NULL, last_seq = ?, resumes = resumes + 1, resumed_at = ?, lease_expires_at = ? WHERE id = ? AND owner_id = ?",
      ),
      finishExecution: db.prepare(
        // A resumed execution's duration is the whole of it (the finished event times its last run only).
        "UPDATE executions SET status = ?, finished_at = ?, duration_ms = CASE WHEN resumes > 0 THEN ? - started_at ELSE ? END, failure = ?, last_seq = ? WHERE id = ? AND owner_id = ?",
      ),
      progressExecution: db.prepare(
        "UPDATE executions SET last_seq = ?, lease_expires_at = ? WHERE id = ? AND owner_id = ?",
      ),
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
        this.cacheQueue.push([key, nodeType, stringifyJson(this.codec.storablePorts(outputs))]);
        this.scheduleFlush();
      },
    };
  }

  /** Opens (creating or upgrading when needed) the journal at `options.path`. */
  static async open(options: JournalOptions): Promise<Journal> {
    const { DatabaseSync } = await import("node:sqlite");
    // The journal holds every value of every execution: only its owner may read it. SQLite gives the -wal and -shm
    // files the database's mode, so the database is made private before SQLite opens it; files of an older
    // version, created with the umask, are made private too.
    mkdirSync(dirname(options.path), { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
    const blobDir = join(dirname(options.path), "blobs");
    const synchronous = options.durability === "full" ? "FULL" : "NORMAL";
    let db: DatabaseSync | undefined;
    try {
      ensurePrivateFile(options.path);
      for (const suffix of ["-wal", "-shm"]) tightenMode(options.path + suffix, PRIVATE_FILE_MODE);
      tightenMode(blobDir, PRIVATE_DIRECTORY_MODE);
      db = new DatabaseSync(options.path);
      prepareJournal(db, options.path, synchronous);
    } catch (error) {
      db?.close();
      if (error instanceof ConductorError) throw error;
      throw new ConductorError(
        "journal_failed",
        `cannot open the journal ${options.path}: ${(error as Error).message}; check that its directory is writable and the file is a Conductor journal`,
        { cause: error },
      );
    }
    const opened = db;
    return new Journal(opened, options.path, blobDir, options.lease, () => {
      const checkpointer = Checkpointer.start(options.path, synchronous);
      // Checkpoints run on their own thread; this connection checkpoints only if that thread falls far behind.
      if (checkpointer !== undefined)
        opened.exec(`PRAGMA wal_autocheckpoint = ${CHECKPOINT_SAFETY_NET_PAGES};`);
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
    if (event.type === "execution.started") {
      this.open++;
      // A resumed execution was claimed before it started again; a new one is held from its first write.
      if (event.resumed !== true) this.leases.hold(event.executionId);
    } else if (event.type === "execution.finished") {
      this.open--;
      this.leases.release(event.executionId);
    }
    this.scheduleFlush();
  }

  /**
   * Takes over an execution recorded as running, to resume it in this process: refused while another process runs
   * it (see {@link ExecutionLeases.claim}).
   */
  claim(executionId: string): void {
    this.write();
    this.lost.delete(executionId);
    this.leases.claim(executionId);
  }

  /** Calls `listener` with the id of an execution this process ran when another process took it over. */
  onLost(listener: (executionId: string) => void): () => void {
    return this.leases.onLost(listener);
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
    if (filter.orphaned === true) where.push("status = 'running'");
    else if (filter.status !== undefined) {
      where.push("status = ?");
      parameters.push(filter.status);
    }
    const limit = filter.limit ?? 100;
    // Whether a running execution is an orphan is decided here, not in SQL: all running ones are read for that
    // filter (there are few), and the limit applies after.
    if (filter.orphaned !== true) parameters.push(limit);
    const rows = this.db
      .prepare(
        `SELECT ${SUMMARY_COLUMNS} FROM executions ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY started_at DESC${filter.orphaned === true ? "" : " LIMIT ?"}`,
      )
      .all(...parameters) as unknown as ExecutionRow[];
    const summaries = rows.map((row) => summaryOfRow(row, (columns) => this.leases.stateOf(columns)));
    return filter.orphaned === true
      ? summaries.filter((summary) => summary.orphaned !== undefined).slice(0, limit)
      : summaries;
  }

  get(executionId: string): ExecutionDetail | undefined {
    let detail: ExecutionDetail | undefined;
    for (const event of this.events(executionId)) detail = applyEvent(detail, event);
    if (detail === undefined) return undefined;
    const row = this.db
      .prepare(`SELECT ${SUMMARY_COLUMNS} FROM executions WHERE id = ?`)
      .get(executionId) as unknown as ExecutionRow | undefined;
    if (row !== undefined) {
      const summary = summaryOfRow(row, (columns) => this.leases.stateOf(columns));
      if (summary.owner !== undefined) detail.owner = summary.owner;
      if (summary.orphaned !== undefined) detail.orphaned = summary.orphaned;
    }
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

  /**
   * Executions recorded as running that nobody runs any more (their owner died, or its lease expired), oldest
   * first: what `conductor serve` adopts and `conductor resume --all` continues. Sub-blueprints' executions are not
   * among them: they are resumed through their parent (see {@link unfinishedChild}).
   */
  orphans(): string[] {
    this.write();
    const rows = this.db
      .prepare(
        `SELECT ${SUMMARY_COLUMNS} FROM executions WHERE status = 'running' AND parent_id IS NULL ORDER BY started_at`,
      )
      .all() as unknown as ExecutionRow[];
    return rows.filter((row) => this.leases.stateOf(row) !== "alive").map((row) => row.id);
  }

  /** The execution recorded as running that node `parentNode` of execution `parentId` started, if any. */
  unfinishedChild(parentId: string, parentNode: string): string | undefined {
    this.write();
    const row = this.db
      .prepare(
        "SELECT id FROM executions WHERE parent_id = ? AND parent_node = ? AND status = 'running' ORDER BY started_at DESC LIMIT 1",
      )
      .get(parentId, parentNode) as { id: string } | undefined;
    return row?.id;
  }

  /**
   * Records an execution this process runs as cancelled, at once and synchronously, for a process that must exit
   * before the execution can finish by itself (a second Ctrl-C): what was recorded so far is written, then an
   * `execution.finished` event with status `cancelled` and `reason`. Nothing is waited for: the process's runtimes
   * stop with it. The execution is then not an orphan, so nobody resumes what its user cancelled.
   */
  abandon(executionId: string, reason: string): void {
    this.write();
    if (!this.leases.holds(executionId)) return;
    const row = this.db
      .prepare(
        "SELECT started_at, last_seq FROM executions WHERE id = ? AND owner_id = ? AND status = 'running'",
      )
      .get(executionId, this.leases.owner.id) as { started_at: number; last_seq: number } | undefined;
    if (row === undefined) return;
    const at = Date.now();
    this.append({
      type: "execution.finished",
      executionId,
      seq: row.last_seq + 1,
      at,
      status: "cancelled",
      outputs: {},
      failure: { nodeId: "", message: reason, type: "cancelled", retryable: false },
      durationMs: at - row.started_at,
    });
    this.write();
  }

  /** Everything needed to resume or re-run an execution. */
  recorded(executionId: string): RecordedExecution | undefined {
    this.write();
    const row = this.db
      .prepare(
        "SELECT e.id, e.status, e.project_dir, e.inputs, e.parent_id, e.parent_node, b.source, b.document FROM executions e LEFT JOIN blueprints b ON b.key = e.blueprint_key WHERE e.id = ?",
      )
      .get(executionId) as
      | {
          id: string;
          status: string;
          parent_id: string | null;
          parent_node: string | null;
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
      ...(row.parent_id === null
        ? {}
        : { parent: { executionId: row.parent_id, nodeId: row.parent_node ?? "" } }),
      inputs:
        row.inputs === null
          ? {}
          : (this.codec.reviveValue(parseJsonText(row.inputs)) as Record<string, unknown>),
      events: this.events(executionId),
    };
  }

  async close(): Promise<void> {
    this.leases.stop();
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
    const lost: string[] = [];
    // IMMEDIATE: the transaction takes the write lock at once (waiting for it under the busy timeout), rather than
    // failing when it would upgrade from reading.
    const began = this.onCommit === undefined ? 0 : performance.now();
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const ownerId = this.leases.owner.id;
      for (const [executionId, list] of byExecution) {
        if (this.lost.has(executionId)) continue;
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
            ...lineageValues(first.lineage),
            stringifyJson(this.codec.storablePorts(first.inputs)),
            this.codec.encode(list),
            ...this.leases.ownerValues(),
          );
          continue;
        }
        // Every statement but a new execution's insert names this process as the owner: when another process
        // took the execution over, none changes anything, and its events are not written.
        let owned = true;
        for (const event of list) {
          if (event.type === "execution.started") {
            if (event.resumed === true) {
              owned &&=
                this.statements.resumeExecution.run(
                  event.seq,
                  event.at,
                  this.leases.expiry(),
                  executionId,
                  ownerId,
                ).changes > 0;
            } else {
              const origin = this.origins.get(executionId);
              this.origins.delete(executionId);
              this.statements.startExecution.run(
                executionId,
                event.blueprintId,
                event.at,
                event.seq,
                origin?.blueprintKey ?? null,
                origin?.projectDir ?? null,
                ...lineageValues(event.lineage),
                stringifyJson(this.codec.storablePorts(event.inputs)),
                ...this.leases.ownerValues(),
              );
            }
          } else if (event.type === "execution.finished") {
            owned &&=
              this.statements.finishExecution.run(
                event.status,
                event.at,
                event.at,
                event.durationMs,
                event.failure === undefined ? null : stringifyJson(this.codec.storableValue(event.failure)),
                event.seq,
                executionId,
                ownerId,
              ).changes > 0;
          }
        }
        if (owned && last.type !== "execution.finished") {
          owned =
            this.statements.progressExecution.run(last.seq, this.leases.expiry(), executionId, ownerId)
              .changes > 0;
        }
        if (!owned) {
          lost.push(executionId);
          continue;
        }
        this.statements.insertBatch.run(executionId, list[0]!.seq, last.seq, this.codec.encode(list));
      }
      const now = Date.now();
      for (const [key, nodeType, outputs] of cached)
        this.statements.putCache.run(key, nodeType, outputs, now);
      this.db.exec("COMMIT");
      this.onCommit?.((performance.now() - began) / 1000);
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
    for (const executionId of lost) {
      this.lost.add(executionId);
      this.leases.reportLost(executionId);
    }
  }
}
