import type { DatabaseSync, StatementSync } from "node:sqlite";
import { ConductorError } from "../errors.js";
import {
  createExecutionOwner,
  describeOwner,
  type ExecutionOwner,
  type OwnerState,
  ownerState,
  processIsAlive,
} from "./execution-owner.js";

/** Options of the leases a journal's executions are held by (see {@link ExecutionLeases}). */
export interface LeaseOptions {
  /** How long a lease lasts without being renewed, in milliseconds. Default 30 s. */
  ttlMs?: number;
  /** How often the owner renews its leases. Default: a third of `ttlMs`. */
  renewEveryMs?: number;
  /** What this process is, for other processes' messages, e.g. `conductor serve`. Default: the program's name. */
  label?: string;
  /** The clock (milliseconds since the epoch); tests move it. */
  now?: () => number;
  /** Whether an owner's process lives on this machine; tests replace it. */
  isAlive?: (owner: ExecutionOwner) => boolean;
}

/** The owner columns of an `executions` row. */
export interface OwnerColumns {
  owner_id: string | null;
  owner_host: string | null;
  owner_pid: number | null;
  owner_started_at: number | null;
  owner_process: string | null;
  owner_label: string | null;
  lease_expires_at: number | null;
}

/** The owner a row names, if any. */
export function ownerOfRow(row: OwnerColumns): ExecutionOwner | undefined {
  if (row.owner_id === null) return undefined;
  return {
    id: row.owner_id,
    host: row.owner_host ?? "",
    pid: row.owner_pid ?? 0,
    startedAt: row.owner_started_at ?? 0,
    processKey: row.owner_process ?? "",
    label: row.owner_label ?? "a conductor process",
  };
}

/** Default lease: long enough that a busy event loop never loses it, short enough that an orphan waits little. */
export const DEFAULT_LEASE_TTL_MS = 30_000;

/**
 * The leases by which executions have owners. Every execution the journal records as running is held by one
 * process: the one that started it, or the one that resumed it (`claim`). The owner renews its leases on a timer
 * while it runs executions; every write of an execution's events renews its lease as well and is fenced by it (see
 * the journal). Another process treats a running execution whose owner died (on this machine) or whose lease
 * expired as an orphan, which it may resume; a live one it leaves alone. Claims are taken in a write transaction
 * (`BEGIN IMMEDIATE`), so of two processes claiming one execution exactly one succeeds.
 */
export class ExecutionLeases {
  readonly owner: ExecutionOwner;
  readonly ttlMs: number;
  private readonly renewEveryMs: number;
  private readonly clock: () => number;
  private readonly isAlive: (owner: ExecutionOwner) => boolean;
  /** Executions this process holds and has not finished. */
  private readonly held = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly statements: Record<"read" | "take" | "renew", StatementSync>;
  private readonly lostListeners = new Set<(executionId: string) => void>();

  constructor(
    private readonly db: DatabaseSync,
    options: LeaseOptions = {},
  ) {
    this.owner = createExecutionOwner(options.label ?? programLabel());
    this.ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    this.renewEveryMs = options.renewEveryMs ?? Math.max(1, Math.floor(this.ttlMs / 3));
    this.clock = options.now ?? Date.now;
    this.isAlive = options.isAlive ?? processIsAlive;
    this.statements = {
      read: db.prepare(
        "SELECT status, parent_id, owner_id, owner_host, owner_pid, owner_started_at, owner_process, owner_label, lease_expires_at FROM executions WHERE id = ?",
      ),
      take: db.prepare(
        "UPDATE executions SET owner_id = ?, owner_host = ?, owner_pid = ?, owner_started_at = ?, owner_process = ?, owner_label = ?, lease_expires_at = ? WHERE id = ?",
      ),
      renew: db.prepare(
        "UPDATE executions SET lease_expires_at = ? WHERE id = ? AND owner_id = ? AND status = 'running'",
      ),
    };
  }

  now(): number {
    return this.clock();
  }

  /** When a lease taken or renewed now expires. */
  expiry(): number {
    return this.clock() + this.ttlMs;
  }

  /** The owner columns of a lease taken now, in the order the journal's statements list them. */
  ownerValues(): [string, string, number, number, string, string, number] {
    const owner = this.owner;
    return [owner.id, owner.host, owner.pid, owner.startedAt, owner.processKey, owner.label, this.expiry()];
  }

  /** Whether the owner a row names still runs it, seen from this process now. */
  stateOf(row: OwnerColumns): OwnerState {
    return ownerState(
      ownerOfRow(row),
      row.lease_expires_at ?? undefined,
      this.owner,
      this.clock(),
      this.isAlive,
    );
  }

  /** Calls `listener` with the id of an execution this process held when another process took it over. */
  onLost(listener: (executionId: string) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /**
   * Takes over a running execution for this process, as resuming it needs: refused (with who runs it) while its
   * owner is alive, and when it is not running. One transaction, so two processes never both take it.
   */
  claim(executionId: string): void {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const row = this.statements.read.get(executionId) as
        | (OwnerColumns & { status: string; parent_id: string | null })
        | undefined;
      if (row === undefined) {
        throw new ConductorError("execution_not_found", `the journal has no execution "${executionId}"`);
      }
      if (row.status !== "running") {
        throw new ConductorError(
          "execution_finished",
          `execution "${executionId}" already ${row.status}; nothing to resume (use \`conductor rerun\` to run it again)`,
        );
      }
      const owner = ownerOfRow(row);
      if (owner !== undefined && owner.id !== this.owner.id && this.stateOf(row) === "alive") {
        throw new ConductorError(
          "execution_running",
          `execution "${executionId}" is running in another process: ${describeOwner(owner)}, whose lease runs until ${new Date(row.lease_expires_at ?? 0).toISOString()}; wait for it to finish, or stop that process (an execution whose process died can be resumed at once, one whose process stopped renewing its lease once the lease has expired)`,
        );
      }
      this.statements.take.run(...this.ownerValues(), executionId);
      this.db.exec("COMMIT");
    } catch (error) {
      this.db.exec("ROLLBACK");
      throw error;
    }
    this.hold(executionId);
  }

  /** Notes that this process holds `executionId` (it started it, or claimed it) until {@link release}. */
  hold(executionId: string): void {
    this.held.add(executionId);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.renew(), this.renewEveryMs);
      // A lease never keeps a process alive: a process that has nothing else to do lets it expire.
      this.timer.unref();
    }
  }

  /** Notes that `executionId` ended here (finished, or lost). */
  release(executionId: string): void {
    this.held.delete(executionId);
    if (this.held.size === 0) this.stop();
  }

  /** Whether this process holds `executionId`. */
  holds(executionId: string): boolean {
    return this.held.has(executionId);
  }

  /**
   * Renews the lease of every execution this process holds; one another process took over meanwhile (this process
   * was frozen past its lease, say) is reported lost. Executions not yet written to the journal are skipped: their
   * first write takes their lease.
   */
  renew(): void {
    if (this.held.size === 0) return;
    const lost: string[] = [];
    try {
      this.db.exec("BEGIN IMMEDIATE");
      try {
        const expiry = this.expiry();
        for (const executionId of this.held) {
          const { changes } = this.statements.renew.run(expiry, executionId, this.owner.id);
          if (changes > 0) continue;
          const row = this.statements.read.get(executionId) as OwnerColumns | undefined;
          if (row !== undefined && row.owner_id !== this.owner.id) lost.push(executionId);
        }
        this.db.exec("COMMIT");
      } catch (error) {
        this.db.exec("ROLLBACK");
        throw error;
      }
    } catch {
      // The journal is busy or failing: the next round tries again, well within the lease.
      return;
    }
    for (const executionId of lost) this.reportLost(executionId);
  }

  /** An execution this process held was taken over by another: stop tracking it and tell the listeners. */
  reportLost(executionId: string): void {
    if (!this.held.has(executionId)) return;
    this.release(executionId);
    for (const listener of [...this.lostListeners]) listener(executionId);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** The name of the program running, for an owner's label: `conductor serve`, or the script's name. */
function programLabel(): string {
  const script = process.argv[1]?.split(/[\\/]/).pop() ?? "node";
  return script === "conductor.js" || script === "conductor"
    ? `conductor ${process.argv[2] ?? ""}`.trim()
    : script;
}
