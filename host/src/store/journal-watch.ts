import { type FSWatcher, watch } from "node:fs";
import { basename, dirname } from "node:path";

/** How long a burst of writes to the journal is gathered into one notice. */
const COALESCE_MS = 10;

/**
 * Tells listeners that the journal's files changed, whichever process wrote them: a commit appends to the
 * write-ahead log (`<journal>-wal`), and a checkpoint rewrites the database file. It is how a host sees, as they
 * are recorded, the events of an execution that another process runs on the same journal (a `conductor run` in a
 * terminal while `conductor serve` shows it in the debugger). One directory watch while anyone listens; a burst of
 * writes gives one notice. Where the file system cannot be watched, nobody is told and callers fall back on
 * polling.
 */
export class JournalWatch {
  private readonly listeners = new Set<() => void>();
  private watcher: FSWatcher | undefined;
  private pending: NodeJS.Timeout | undefined;
  private readonly names: Set<string>;

  constructor(private readonly path: string) {
    const name = basename(path);
    this.names = new Set([name, `${name}-wal`]);
  }

  /** Calls `listener` after the journal changes; returns a function that stops it. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    this.start();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  close(): void {
    this.listeners.clear();
    this.stop();
  }

  private start(): void {
    if (this.watcher !== undefined) return;
    try {
      this.watcher = watch(dirname(this.path), { persistent: false }, (_event, name) => {
        if (name !== null && !this.names.has(name)) return;
        this.pending ??= setTimeout(() => {
          this.pending = undefined;
          for (const listener of [...this.listeners]) {
            try {
              listener();
            } catch {
              // A listener that cannot read now (the journal busy, say) reads on the next change; the host stays up.
            }
          }
        }, COALESCE_MS).unref();
      });
      this.watcher.on("error", () => this.stop());
    } catch {
      this.watcher = undefined;
    }
  }

  private stop(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.pending !== undefined) clearTimeout(this.pending);
    this.pending = undefined;
  }
}
