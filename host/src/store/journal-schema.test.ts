import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Worker } from "node:worker_threads";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createConductor } from "../conductor.js";
import { JOURNAL_FORMAT } from "./journal-schema.js";
import { Journal } from "./sqlite-journal.js";

/** A thread holding an exclusive lock on a fresh database for a while; it sets `released[0]` when it lets go. */
const LOCK_HOLDER = `
const { DatabaseSync } = require("node:sqlite");
const { parentPort, workerData } = require("node:worker_threads");
const released = new Int32Array(workerData.released);
const db = new DatabaseSync(workerData.path);
db.exec("BEGIN EXCLUSIVE; CREATE TABLE held (x);");
parentPort.postMessage("locked");
setTimeout(() => {
  db.exec("COMMIT");
  db.close();
  Atomics.store(released, 0, 1);
}, workerData.holdMs);
`;

describe("prepareJournal()", () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "journal-schema-"));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("waits for another process's lock on a fresh journal instead of failing with 'database is locked'", async () => {
    const path = join(dir, "journal.db");
    const released = new SharedArrayBuffer(4);
    const worker = new Worker(LOCK_HOLDER, { eval: true, workerData: { path, holdMs: 300, released } });
    await new Promise<void>((resolve) => worker.once("message", () => resolve()));
    // Opening is synchronous: it waits in SQLite's busy handler while the other thread holds the lock, and
    // returns only once the lock was let go.
    const journal = await Journal.open({ path });
    expect(Atomics.load(new Int32Array(released), 0)).toBe(1);
    await journal.close();
    await worker.terminate();
    const db = new DatabaseSync(path);
    expect(db.prepare("PRAGMA user_version").get()).toEqual({ user_version: JOURNAL_FORMAT });
    expect(db.prepare("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    db.close();
  });

  it("upgrades a format-2 journal in place; an execution it recorded as running has no owner and is an orphan", async () => {
    const path = join(dir, "journal.db");
    const old = new DatabaseSync(path);
    old.exec(`
      CREATE TABLE blueprints (key TEXT PRIMARY KEY, source TEXT NOT NULL, document TEXT NOT NULL);
      CREATE TABLE executions (
        id TEXT PRIMARY KEY, blueprint_id TEXT NOT NULL, status TEXT NOT NULL, started_at INTEGER NOT NULL,
        finished_at INTEGER, duration_ms REAL, failure TEXT, last_seq INTEGER NOT NULL DEFAULT 0,
        blueprint_key TEXT, project_dir TEXT, parent_id TEXT, inputs TEXT, events TEXT);
      CREATE TABLE event_batches (execution_id TEXT NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, events TEXT NOT NULL);
      CREATE TABLE result_cache (key TEXT PRIMARY KEY, node_type TEXT NOT NULL, outputs TEXT NOT NULL, created_at INTEGER NOT NULL);
      INSERT INTO executions (id, blueprint_id, status, started_at, last_seq) VALUES ('cut-off', 'flow', 'running', 1000, 0);
      INSERT INTO executions (id, blueprint_id, status, started_at, finished_at, duration_ms, last_seq) VALUES ('done', 'flow', 'completed', 500, 600, 100, 0);
      PRAGMA user_version = 2;
    `);
    old.close();
    const host = await createConductor({
      journal: path,
      project: { dir, blueprints: [], nodes: [], runtimes: {} },
    });
    try {
      expect(host.executions.list()).toMatchObject([
        { executionId: "cut-off", status: "running", orphaned: "unknown" },
        { executionId: "done", status: "completed", durationMs: 100 },
      ]);
      expect(host.executions.list()[1]!.orphaned).toBeUndefined();
    } finally {
      await host.close();
    }
    const db = new DatabaseSync(path);
    expect(db.prepare("PRAGMA user_version").get()).toEqual({ user_version: JOURNAL_FORMAT });
    db.close();
  });
});
