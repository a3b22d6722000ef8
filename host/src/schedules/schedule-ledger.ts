import { existsSync } from "node:fs";
import type { DatabaseSync, StatementSync } from "node:sqlite";

/** The last slot a schedule fired. */
export interface FiredSlot {
  slot: number;
  executionId: string;
  /** When it fired (milliseconds since the epoch): later than the slot when it was caught up. */
  firedAt: number;
}

/**
 * Where a host running schedules from its journal records the slots it fired, so a slot fires once across
 * restarts (and once when two hosts share the journal): a slot is claimed in one INSERT before its execution
 * starts, and only the process whose INSERT added the row starts it. The table lives in the journal's database
 * (its own table, created if missing; the journal format does not change).
 */
export class ScheduleLedger {
  private readonly statements: Record<"claim" | "last" | "since" | "setSince", StatementSync>;

  private constructor(private readonly db: DatabaseSync) {
    this.statements = {
      claim: db.prepare(
        "INSERT OR IGNORE INTO schedule_slots (schedule, slot, execution_id, fired_at) VALUES (?, ?, ?, ?)",
      ),
      last: db.prepare(
        "SELECT slot, execution_id, fired_at FROM schedule_slots WHERE schedule = ? ORDER BY slot DESC LIMIT 1",
      ),
      since: db.prepare("SELECT since FROM schedule_state WHERE schedule = ?"),
      setSince: db.prepare("INSERT OR IGNORE INTO schedule_state (schedule, since) VALUES (?, ?)"),
    };
  }

  /** Opens the ledger in the database at `path` (the journal), creating its tables. */
  static async open(path: string): Promise<ScheduleLedger> {
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(path);
    try {
      // Because the journal's own connection writes to the same file: wait for it rather than fail.
      db.exec("PRAGMA busy_timeout = 10000;");
      db.exec(`
        CREATE TABLE IF NOT EXISTS schedule_slots (
          schedule TEXT NOT NULL,
          slot INTEGER NOT NULL,
          execution_id TEXT NOT NULL,
          fired_at INTEGER NOT NULL,
          PRIMARY KEY (schedule, slot)
        );
        CREATE TABLE IF NOT EXISTS schedule_state (
          schedule TEXT PRIMARY KEY,
          since INTEGER NOT NULL
        );
      `);
    } catch (error) {
      db.close();
      throw error;
    }
    return new ScheduleLedger(db);
  }

  /**
   * Reads the last fired slot of each of `scheduleIds` from the database at `path` without writing to it (for
   * `conductor schedules`); an empty map when it has none.
   */
  static async readLast(path: string, scheduleIds: readonly string[]): Promise<Map<string, FiredSlot>> {
    const found = new Map<string, FiredSlot>();
    if (!existsSync(path)) return found;
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      db.exec("PRAGMA busy_timeout = 10000;");
      const table = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schedule_slots'")
        .get();
      if (table === undefined) return found;
      const last = db.prepare(
        "SELECT slot, execution_id, fired_at FROM schedule_slots WHERE schedule = ? ORDER BY slot DESC LIMIT 1",
      );
      for (const id of scheduleIds) {
        const row = last.get(id) as SlotRow | undefined;
        if (row !== undefined) found.set(id, firedSlot(row));
      }
    } finally {
      db.close();
    }
    return found;
  }

  /** Claims `slot` of `schedule` for `executionId`: true for the one caller that claimed it first. */
  claim(schedule: string, slot: number, executionId: string, firedAt: number): boolean {
    return Number(this.statements.claim.run(schedule, slot, executionId, firedAt).changes) === 1;
  }

  /** The last slot `schedule` fired, if any. */
  last(schedule: string): FiredSlot | undefined {
    const row = this.statements.last.get(schedule) as SlotRow | undefined;
    return row === undefined ? undefined : firedSlot(row);
  }

  /**
   * Since when a scheduler has run `schedule`: the first time one started it (recorded now if never). Slots
   * before it are not missed slots, so a new schedule never catches up on its past.
   */
  since(schedule: string, now: number): number {
    this.statements.setSince.run(schedule, now);
    return Number((this.statements.since.get(schedule) as { since: number }).since);
  }

  close(): void {
    this.db.close();
  }
}

interface SlotRow {
  slot: number;
  execution_id: string;
  fired_at: number;
}

function firedSlot(row: SlotRow): FiredSlot {
  return { slot: Number(row.slot), executionId: row.execution_id, firedAt: Number(row.fired_at) };
}
