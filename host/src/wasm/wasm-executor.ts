import { runWasmCall, type WasmCall, type WasmCallResult, type WasmModulePlan } from "./wasm-call.js";

/**
 * Where WebAssembly calls run. The Node host runs them in worker threads (node-worker-executor.ts) and a page in
 * Web Workers (web-worker-executor.ts), because stopping the thread is the only way to stop a module that loops:
 * a call past its time limit ends with its worker terminated. {@link createInlineExecutor} runs them in the
 * calling thread, with no time limit, for environments without workers.
 */
export interface WasmExecutor {
  /** Runs a call; `timeoutMs` 0 means no limit. Resolves, never rejects. */
  call(plan: WasmModulePlan, call: WasmCall, timeoutMs: number): WasmCallHandle;
  close(): Promise<void>;
}

export interface WasmCallHandle {
  result: Promise<WasmCallResult>;
  /** Stops the call (its worker is terminated); the result becomes a `timeout` fault saying why. */
  cancel(reason: string): void;
}

/** Runs calls in the calling thread: no time limit can stop a loop there, so use it only for trusted modules. */
export function createInlineExecutor(): WasmExecutor {
  return {
    call(plan, call) {
      return { result: runWasmCall(plan, call), cancel() {} };
    },
    async close() {},
  };
}

/** A message to a worker: compile-once registration of a module, or a call. */
export type WorkerRequest =
  | { kind: "module"; index: number; plan: WasmModulePlan }
  | { kind: "call"; id: number; index: number; call: WasmCall };

/** A worker's answer to a call. */
export interface WorkerAnswer {
  id: number;
  result: WasmCallResult;
}

/**
 * The worker side, the same in a Node worker thread and a Web Worker: keeps the modules it was given and answers
 * each call with its result. `post` sends an answer, moving the bytes outputs rather than copying them.
 */
export function serveWasmCalls(post: (answer: WorkerAnswer, transfer: ArrayBuffer[]) => void) {
  const plans: WasmModulePlan[] = [];
  return (request: WorkerRequest): void => {
    if (request.kind === "module") {
      plans[request.index] = request.plan;
      return;
    }
    const plan = plans[request.index]!;
    void runWasmCall(plan, request.call).then((result) => {
      const transfer: ArrayBuffer[] = [];
      if (result.ok) {
        for (const value of Object.values(result.outputs))
          if (value instanceof Uint8Array && value.buffer instanceof ArrayBuffer) transfer.push(value.buffer);
      }
      post({ id: request.id, result }, transfer);
    });
  };
}

/** A worker as the pool sees it, whatever the platform. */
export interface PoolWorker {
  post(request: WorkerRequest): void;
  terminate(): void;
}

/** Options of {@link createWorkerPoolExecutor}. */
export interface WorkerPoolOptions {
  /** Starts a worker; `onAnswer` receives its answers, `onError` a crash of the worker itself. */
  spawn(onAnswer: (answer: WorkerAnswer) => void, onError: (error: Error) => void): PoolWorker;
  /** Most workers, so most calls at once. */
  size: number;
}

interface Slot {
  worker: PoolWorker;
  /** The modules it has been given, by plan. */
  known: Map<WasmModulePlan, number>;
  busy:
    | {
        id: number;
        resolve: (result: WasmCallResult) => void;
        /** When the call is past its time limit (`performance.now()`), and what it then becomes. */
        deadline: { at: number; fault: () => WasmCallResult } | undefined;
      }
    | undefined;
  /**
   * The slot's watchdog, armed for the earliest deadline it may have to enforce and left armed between calls:
   * because a timer set and cleared for every call cost a tenth of a short call's round trip (Node's timer list and
   * its event loop), a call only writes its deadline, and the watchdog, when it fires, stops the call past it or
   * sets itself again for the call that now runs.
   */
  watchdog: ReturnType<typeof setTimeout> | undefined;
  /** When the watchdog fires (`performance.now()`). */
  watchdogAt: number;
}

/**
 * Runs calls on a pool of workers, one call per worker at a time, queueing the rest. A call past its time limit,
 * or cancelled, terminates its worker (the only way to stop a running module); the next call starts a fresh one.
 * Platform-free: the platform gives `spawn`.
 */
export function createWorkerPoolExecutor(options: WorkerPoolOptions): WasmExecutor {
  const slots: Slot[] = [];
  const queue: { run: (slot: Slot) => void; dropped: () => boolean }[] = [];
  let nextId = 1;
  let closed = false;

  const release = (slot: Slot) => {
    slot.busy = undefined;
    while (queue.length > 0) {
      const next = queue.shift()!;
      if (next.dropped()) continue;
      next.run(slot);
      return;
    }
  };
  const kill = (slot: Slot, result: WasmCallResult) => {
    if (!slots.includes(slot)) return;
    const busy = slot.busy;
    slot.worker.terminate();
    if (slot.watchdog !== undefined) clearTimeout(slot.watchdog);
    slots.splice(slots.indexOf(slot), 1);
    if (busy !== undefined) busy.resolve(result);
    // A queued call gets the place of the terminated worker.
    const next = queue.find((entry) => !entry.dropped());
    if (next !== undefined && !closed) {
      queue.splice(queue.indexOf(next), 1);
      next.run(spawnSlot());
    }
  };
  /** Arms the slot's watchdog to look again in `ms`; it keeps no process alive (a busy worker does). */
  const watch = (slot: Slot, ms: number) => {
    if (slot.watchdog !== undefined) clearTimeout(slot.watchdog);
    slot.watchdogAt = performance.now() + ms;
    slot.watchdog = setTimeout(() => {
      slot.watchdog = undefined;
      slot.watchdogAt = Number.POSITIVE_INFINITY;
      const deadline = slot.busy?.deadline;
      if (deadline === undefined) return;
      const left = deadline.at - performance.now();
      if (left <= 0) kill(slot, deadline.fault());
      else watch(slot, left);
    }, ms);
    (slot.watchdog as { unref?: () => void }).unref?.();
  };
  const spawnSlot = (): Slot => {
    const slot: Slot = {
      worker: undefined as unknown as PoolWorker,
      known: new Map(),
      busy: undefined,
      watchdog: undefined,
      watchdogAt: Number.POSITIVE_INFINITY,
    };
    slot.worker = options.spawn(
      (answer) => {
        if (slot.busy?.id !== answer.id) return;
        const busy = slot.busy;
        release(slot);
        busy.resolve(answer.result);
      },
      (error) => {
        kill(slot, {
          ok: false,
          fault: { kind: "trap", message: `the worker running it crashed: ${error.message}` },
          logs: [],
        });
      },
    );
    slots.push(slot);
    return slot;
  };

  return {
    call(plan, call, timeoutMs) {
      let resolveResult!: (result: WasmCallResult) => void;
      const result = new Promise<WasmCallResult>((resolve) => {
        resolveResult = resolve;
      });
      const id = nextId++;
      let slotOf: Slot | undefined;
      let settled = false;
      const finish = (value: WasmCallResult) => {
        if (settled) return;
        settled = true;
        resolveResult(value);
      };
      const run = (slot: Slot) => {
        slotOf = slot;
        let index = slot.known.get(plan);
        if (index === undefined) {
          index = slot.known.size;
          slot.known.set(plan, index);
          slot.worker.post({ kind: "module", index, plan });
        }
        const deadline =
          timeoutMs > 0
            ? {
                at: performance.now() + timeoutMs,
                fault: (): WasmCallResult => ({
                  ok: false,
                  fault: {
                    kind: "timeout",
                    message: `wasm module "${plan.name}" ran past its time limit of ${timeoutMs} ms and was stopped (its worker terminated)`,
                  },
                  logs: [],
                }),
              }
            : undefined;
        slot.busy = { id, resolve: finish, deadline };
        // A call with a shorter limit than the one the watchdog was set for sets it again, earlier.
        if (deadline !== undefined && deadline.at < slot.watchdogAt) watch(slot, timeoutMs);
        slot.worker.post({ kind: "call", id, index, call });
      };
      const free = slots.find((slot) => slot.busy === undefined);
      if (free !== undefined) run(free);
      else if (slots.length < options.size) run(spawnSlot());
      else queue.push({ run, dropped: () => settled });
      return {
        result,
        cancel(reason) {
          if (settled) return;
          const fault: WasmCallResult = {
            ok: false,
            fault: { kind: "timeout", message: `wasm module "${plan.name}" was stopped: ${reason}` },
            logs: [],
          };
          if (slotOf !== undefined && slotOf.busy?.id === id) kill(slotOf, fault);
          else finish(fault);
        },
      };
    },
    async close() {
      closed = true;
      for (const slot of [...slots]) {
        if (slot.watchdog !== undefined) clearTimeout(slot.watchdog);
        slot.worker.terminate();
      }
      slots.length = 0;
    },
  };
}
