import type { MessageInitShape } from "@bufbuild/protobuf";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type CommandSchema,
  type Event,
  SessionRequestSchema,
  SessionResponseSchema,
  type StepSchema,
} from "@conductor/sdk/protocol";
import type * as grpc from "@grpc/grpc-js";
import type { CallError } from "./abi-client.js";
import { CheckFailure, show } from "./conformance-check.js";

/** An Execute as the kit writes it, without its id (the driver numbers invocations). */
export type ExecuteInit = { executionId?: string; steps: MessageInitShape<typeof StepSchema>[] };

/**
 * One Session stream driven by the kit: it sends commands (as protobuf-es messages, or as bytes it encoded
 * itself), collects every event by invocation id in arrival order, and waits, with a bound, for what a check
 * expects to happen.
 */
export interface SessionDriver {
  /** Starts an invocation with the next free id (or `id`); gives the id. */
  execute(init: ExecuteInit, id?: bigint): bigint;
  cancel(invocationId: bigint, reason: string, graceMs?: number): void;
  /** Sends several commands in one SessionRequest. */
  send(commands: MessageInitShape<typeof CommandSchema>[]): void;
  /** Sends a SessionRequest the caller encoded; `steps` tells how many steps each new invocation has. */
  sendBytes(bytes: Uint8Array, steps?: ReadonlyMap<bigint, number>): void;
  /** A fresh invocation id, never used on this session. */
  nextId(): bigint;
  /** The events of one invocation so far, in arrival order. */
  events(invocationId: bigint): readonly Event[];
  /** Every event so far, in arrival order. */
  readonly all: readonly Event[];
  /** Whether the invocation got its last event (rejected, failed, cancelled, or the last step's completed). */
  ended(invocationId: bigint): boolean;
  /** Waits for the invocation's last event; fails the check when it does not come in time. */
  waitForEnd(invocationId: bigint, timeoutMs: number): Promise<readonly Event[]>;
  /** Waits until `condition()` holds (checked after every event); fails with `expected` when it does not in time. */
  waitUntil(
    condition: () => boolean,
    expected: string,
    timeoutMs: number,
    found?: () => string,
  ): Promise<void>;
  /** The stream's end, once it ended: undefined error for a clean end. */
  readonly closed: { error?: CallError } | undefined;
  /** Resolves when the stream ends. */
  readonly done: Promise<{ error?: CallError }>;
  /** Ends the host's side of the stream (half-close). */
  halfClose(): void;
  /** Cancels the call. */
  close(): void;
}

/** Wraps a raw grpc-js bidi stream of RuntimeService.Session. */
export function createSessionDriver(
  stream: grpc.ClientDuplexStream<Uint8Array, Uint8Array>,
  toError: (error: unknown) => CallError,
): SessionDriver {
  const byInvocation = new Map<bigint, Event[]>();
  const stepCounts = new Map<bigint, number>();
  const all: Event[] = [];
  const wakers = new Set<() => void>();
  let nextId = 1n;
  let closed: { error?: CallError } | undefined;
  let finish!: (value: { error?: CallError }) => void;
  const done = new Promise<{ error?: CallError }>((resolve) => {
    finish = resolve;
  });
  const wake = () => {
    for (const waker of [...wakers]) waker();
  };
  const end = (value: { error?: CallError }) => {
    if (closed !== undefined) return;
    closed = value;
    finish(value);
    wake();
  };

  stream.on("data", (bytes: Uint8Array) => {
    let response: ReturnType<typeof fromBinary<typeof SessionResponseSchema>>;
    try {
      response = fromBinary(SessionResponseSchema, bytes);
    } catch (error) {
      end({ error: { code: -1, status: "UNDECODABLE", details: (error as Error).message } });
      return;
    }
    for (const event of response.events) {
      all.push(event);
      let list = byInvocation.get(event.invocationId);
      if (list === undefined) {
        list = [];
        byInvocation.set(event.invocationId, list);
      }
      list.push(event);
    }
    wake();
  });
  stream.on("error", (error: unknown) => end({ error: toError(error) }));
  stream.on("end", () => end({}));
  stream.on("status", () => {});

  const write = (bytes: Uint8Array) => {
    if (closed === undefined) stream.write(bytes);
  };
  const ended = (id: bigint): boolean => {
    const events = byInvocation.get(id);
    if (events === undefined) return false;
    const steps = stepCounts.get(id) ?? 1;
    return events.some(
      (event) =>
        event.kind.case === "rejected" ||
        event.kind.case === "failed" ||
        event.kind.case === "cancelled" ||
        (event.kind.case === "completed" && event.step >= steps - 1),
    );
  };
  const waitUntil = (
    condition: () => boolean,
    expected: string,
    timeoutMs: number,
    found: () => string = () => describeEvents(all),
  ): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (condition()) {
          cleanup();
          resolve();
        } else if (closed !== undefined) {
          cleanup();
          reject(
            new CheckFailure(
              expected,
              `the session ended (${closed.error === undefined ? "cleanly" : `${closed.error.status}: ${closed.error.details}`}) after: ${found()}`,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new CheckFailure(expected, `after ${timeoutMs} ms: ${found()}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        wakers.delete(check);
      };
      wakers.add(check);
      check();
    });

  const driver: SessionDriver = {
    execute: (init, id) => {
      const invocationId = id ?? nextId++;
      if (invocationId >= nextId) nextId = invocationId + 1n;
      stepCounts.set(invocationId, init.steps.length);
      driver.send([{ kind: { case: "execute", value: { ...init, invocationId } } }]);
      return invocationId;
    },
    cancel: (invocationId, reason, graceMs = 5_000) =>
      driver.send([{ kind: { case: "cancel", value: { invocationId, reason, graceMs } } }]),
    send: (commands) => {
      for (const command of commands) {
        if (command.kind?.case === "execute") {
          const execute = command.kind.value;
          const invocationId = BigInt(execute.invocationId ?? 0n);
          if (!stepCounts.has(invocationId)) stepCounts.set(invocationId, execute.steps?.length ?? 0);
          if (invocationId >= nextId) nextId = invocationId + 1n;
        }
      }
      write(toBinary(SessionRequestSchema, create(SessionRequestSchema, { commands })));
    },
    sendBytes: (bytes, steps) => {
      for (const [id, count] of steps ?? []) {
        stepCounts.set(id, count);
        if (id >= nextId) nextId = id + 1n;
      }
      write(bytes);
    },
    nextId: () => nextId++,
    events: (id) => byInvocation.get(id) ?? [],
    all,
    ended,
    waitForEnd: async (id, timeoutMs) => {
      await waitUntil(
        () => ended(id),
        `invocation ${id} to end (a rejected, failed or cancelled event, or the last step's completed)`,
        timeoutMs,
        () => describeEvents(byInvocation.get(id) ?? []),
      );
      return byInvocation.get(id) ?? [];
    },
    waitUntil,
    get closed() {
      return closed;
    },
    done,
    halfClose: () => stream.end(),
    close: () => stream.cancel(),
  };
  return driver;
}

/** Renders events for a report line: `#1 step 0 started; #1 step 0 completed {"sum":15}`. */
export function describeEvents(events: readonly Event[]): string {
  if (events.length === 0) return "no events";
  const shown = events.slice(0, 12).map(describeEvent);
  return `${shown.join("; ")}${events.length > 12 ? `; … (${events.length} events)` : ""}`;
}

/** Renders one event for a report line. */
export function describeEvent(event: Event): string {
  const head = `#${event.invocationId} step ${event.step} ${event.kind.case ?? "(no kind)"}`;
  switch (event.kind.case) {
    case "completed": {
      const outputs: Record<string, string> = {};
      for (const [port, value] of Object.entries(event.kind.value.outputs)) {
        outputs[port] =
          value.kind.case === "json"
            ? new TextDecoder().decode(value.kind.value)
            : `${value.kind.case ?? "empty"} value`;
      }
      return `${head} ${show(outputs)}`;
    }
    case "failed":
    case "rejected": {
      const failure = event.kind.value.failure;
      return `${head} {type: ${show(failure?.type)}, retryable: ${failure?.retryable}, message: ${show(failure?.message)}}`;
    }
    case "cancelled":
      return `${head} ${show(event.kind.value.reason)}`;
    case "log":
      return `${head} ${show(event.kind.value.message)}`;
    case "progress":
      return `${head} ${event.kind.value.fraction} ${show(event.kind.value.message)}`;
    case "chunk":
      return `${head} ${event.kind.value.port}`;
    default:
      return head;
  }
}
