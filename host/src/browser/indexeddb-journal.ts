import type { ExecutionEvent } from "../scheduler/execution-events.js";
import type { BrowserJournal, JournaledExecution } from "./browser-journal.js";
import { restoredEvent, storableEvent } from "./storable-event.js";

// The part of IndexedDB this journal uses: the host compiles without the DOM's types (lib es2024 and @types/node),
// and pulling them into every file of the host for one module would be a poor trade.
interface IdbRequest<T> {
  result: T;
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null;
}
interface IdbObjectStore {
  put(value: unknown): IdbRequest<unknown>;
  get(key: unknown): IdbRequest<unknown>;
  getAll(range?: unknown): IdbRequest<unknown[]>;
  index(name: string): { getAll(key: unknown): IdbRequest<unknown[]> };
  createIndex(name: string, keyPath: string): void;
}
interface IdbTransaction {
  objectStore(name: string): IdbObjectStore;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  error: unknown;
}
interface IdbDatabase {
  objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string, options: { keyPath: string | string[] }): IdbObjectStore;
  transaction(stores: string[], mode: "readonly" | "readwrite"): IdbTransaction;
  close(): void;
}
interface IdbKeyRangeStatic {
  bound(lower: unknown, upper: unknown): unknown;
}
/** The platform's `indexedDB` (a page's or a Web Worker's). */
export interface IdbFactory {
  open(name: string, version: number): IdbOpenRequest;
}

/** Options of {@link createIndexedDbJournal}. */
export interface IndexedDbJournalOptions {
  /** The database's name; one journal per name. Default "conductor-journal". */
  name?: string;
  /** The platform's IndexedDB; default `globalThis.indexedDB`. */
  indexedDB?: IdbFactory;
}

const EXECUTIONS = "executions";
const EVENTS = "events";

/**
 * A {@link BrowserJournal} in IndexedDB: the page's executions survive a reload, and `engine.resumeUnfinished()`
 * continues those that were running. Events appended in one turn of the event loop are written in one
 * transaction (as the host's SQLite journal batches its writes), so the scheduler never waits for a write except
 * at its durability barrier (`flush`, before a node with side effects).
 */
export async function createIndexedDbJournal(options: IndexedDbJournalOptions = {}): Promise<BrowserJournal> {
  const globals = globalThis as unknown as { indexedDB?: IdbFactory; IDBKeyRange?: IdbKeyRangeStatic };
  const factory = options.indexedDB ?? globals.indexedDB;
  const keyRange = globals.IDBKeyRange;
  if (factory === undefined || keyRange === undefined)
    throw new Error("createIndexedDbJournal() needs IndexedDB, which this platform does not provide");
  const name = options.name ?? "conductor-journal";
  const database = await new Promise<IdbDatabase>((resolve, reject) => {
    const request = factory.open(name, 1);
    request.onupgradeneeded = () => {
      const opened = request.result;
      if (!opened.objectStoreNames.contains(EXECUTIONS)) {
        opened.createObjectStore(EXECUTIONS, { keyPath: "executionId" }).createIndex("status", "status");
      }
      if (!opened.objectStoreNames.contains(EVENTS))
        opened.createObjectStore(EVENTS, { keyPath: ["executionId", "seq"] });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () =>
      reject(new Error(`cannot open the IndexedDB journal "${name}": ${String(request.error)}`));
  });
  return new IndexedDbJournal(database, keyRange);
}

function requested<T>(request: IdbRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

class IndexedDbJournal implements BrowserJournal {
  private queue: ExecutionEvent[] = [];
  private begun: JournaledExecution[] = [];
  private finished = new Map<string, JournaledExecution["status"]>();
  private written: Promise<void> | undefined;
  private failure: unknown;

  constructor(
    private readonly database: IdbDatabase,
    private readonly keyRange: IdbKeyRangeStatic,
  ) {}

  get pending(): boolean {
    return this.queue.length > 0 || this.begun.length > 0 || this.finished.size > 0;
  }

  begin(execution: JournaledExecution): void {
    this.begun.push({ ...execution });
    this.schedule();
  }

  append(event: ExecutionEvent): void {
    this.queue.push(event);
    if (event.type === "execution.finished") this.finished.set(event.executionId, event.status);
    this.schedule();
  }

  async flush(): Promise<void> {
    // Events appended while a batch is being written go into the next one, which the loop waits for too.
    while (this.written !== undefined) await this.written;
    if (this.failure !== undefined) throw this.failure;
  }

  async events(executionId: string): Promise<ExecutionEvent[]> {
    await this.flush();
    const store = this.database.transaction([EVENTS], "readonly").objectStore(EVENTS);
    const range = this.keyRange.bound([executionId, 0], [executionId, Number.MAX_SAFE_INTEGER]);
    return ((await requested(store.getAll(range))) as ExecutionEvent[]).map(restoredEvent);
  }

  async execution(executionId: string): Promise<JournaledExecution | undefined> {
    await this.flush();
    const store = this.database.transaction([EXECUTIONS], "readonly").objectStore(EXECUTIONS);
    return (await requested(store.get(executionId))) as JournaledExecution | undefined;
  }

  async unfinished(): Promise<JournaledExecution[]> {
    await this.flush();
    const store = this.database.transaction([EXECUTIONS], "readonly").objectStore(EXECUTIONS);
    return (await requested(store.index("status").getAll("running"))) as JournaledExecution[];
  }

  async close(): Promise<void> {
    await this.flush().catch(() => {});
    this.database.close();
  }

  /** Writes what was appended in this turn in one transaction, at the end of the turn. */
  private schedule(): void {
    if (this.written !== undefined) return;
    this.written = new Promise<void>((resolve, reject) => {
      queueMicrotask(() => {
        const begun = this.begun;
        const events = this.queue;
        const finished = this.finished;
        this.begun = [];
        this.queue = [];
        this.finished = new Map();
        let transaction: IdbTransaction;
        try {
          transaction = this.database.transaction([EXECUTIONS, EVENTS], "readwrite");
          const executions = transaction.objectStore(EXECUTIONS);
          const stored = transaction.objectStore(EVENTS);
          for (const execution of begun) executions.put(execution);
          // A value the platform cannot clone (a function in an output) throws here: the journal stops writing.
          for (const event of events) stored.put(storableEvent(event));
          for (const [executionId, status] of finished) {
            const request = executions.get(executionId);
            request.onsuccess = () => {
              const record = request.result as JournaledExecution | undefined;
              if (record !== undefined) executions.put({ ...record, status });
            };
          }
        } catch (error) {
          this.written = undefined;
          this.failure = new Error(`the IndexedDB journal could not write: ${(error as Error).message}`);
          reject(this.failure);
          return;
        }
        transaction.oncomplete = () => {
          this.written = undefined;
          if (this.pending) this.schedule();
          resolve();
        };
        transaction.onerror = transaction.onabort = () => {
          this.written = undefined;
          this.failure = new Error(`the IndexedDB journal could not write: ${String(transaction.error)}`);
          reject(this.failure);
        };
      });
    });
    // A failed write is reported by flush(); nobody else awaits this promise.
    this.written.catch(() => {});
  }
}
