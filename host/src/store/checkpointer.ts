import { Worker } from "node:worker_threads";

/**
 * Copies the journal's write-ahead log into the database file from a thread of its own, so that the thread that
 * commits never does: a commit only appends to the log (which is what makes it durable), while a checkpoint
 * rewrites database pages and, with `synchronous = NORMAL` or `FULL`, fsyncs. A checkpoint moves nothing that is not
 * already durable in the log, so when it runs changes no guarantee; it only bounds the log's size. It is PASSIVE:
 * it never blocks the committing thread, nor readers in other processes.
 */
const SOURCE = `
const { DatabaseSync } = require("node:sqlite");
const { parentPort, workerData } = require("node:worker_threads");
const db = new DatabaseSync(workerData.path);
db.exec("PRAGMA busy_timeout = 5000; PRAGMA synchronous = " + workerData.synchronous + ";");
const checkpoint = () => {
  try {
    db.exec("PRAGMA wal_checkpoint(PASSIVE)");
  } catch {
    // Busy or failed: the next round, or the committing connection's own safety net, catches up.
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on("message", () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/** The log's size, in pages, at which the committing connection checkpoints itself (if this thread fell behind). */
export const CHECKPOINT_SAFETY_NET_PAGES = 10_000;

/** A background thread checkpointing the database at `path` every `intervalMs`. */
export class Checkpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;

  private constructor(worker: Worker) {
    this.worker = worker;
    this.exited = new Promise((resolve) => worker.once("exit", () => resolve()));
    // A failing checkpointer costs only log growth, which the committing connection bounds itself.
    worker.on("error", () => {});
    worker.unref();
  }

  /** Starts the thread; undefined when threads are not available (the committing connection then checkpoints). */
  static start(path: string, synchronous: "NORMAL" | "FULL", intervalMs = 50): Checkpointer | undefined {
    try {
      return new Checkpointer(
        new Worker(SOURCE, { eval: true, workerData: { path, synchronous, intervalMs } }),
      );
    } catch {
      return undefined;
    }
  }

  /** Stops the thread after its current checkpoint, and closes its connection. */
  async stop(): Promise<void> {
    // Held open until the thread is gone: nothing else may be keeping this process alive meanwhile.
    this.worker.ref();
    this.worker.postMessage("stop");
    await this.exited;
  }
}
