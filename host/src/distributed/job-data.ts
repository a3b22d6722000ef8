/** The data of one BullMQ job: one invocation (a node, or a chain of nodes on one runtime). */
export interface InvocationJob {
  /** The runtime that serves its node types. */
  runtime: string;
  /** The `SessionRequest` holding its one Execute command, every value inline, base64. */
  request: string;
  /** The scheduler's channel for live events ({@link eventsChannel}). */
  replyTo: string;
  /** Node ids of its steps, for messages. */
  nodes: string[];
}

/**
 * What a job returns, kept in Redis with the job until it expires: every event of the invocation in order (each a
 * `SessionResponse`, base64), so a scheduler that missed live events, or restarted, gets them all.
 */
export interface InvocationOutcome {
  /** Whether its last step completed. */
  ok: boolean;
  /** The worker that ran it. */
  worker: string;
  /** Which delivery of the job ran (1, then 2 after a worker was lost...): events of an earlier one are void. */
  run: number;
  /** The job's live events in order, each a `SessionResponse` holding one or more events, base64. */
  events: string[];
}

/**
 * A live event on the scheduler's channel: a batch of the events of one job (every event its worker wrote in one
 * turn of its event loop), in binary, because JSON around base64 cost both sides more than the event itself:
 * `u16` length of the job id, the job id (UTF-8), `u32` delivery ({@link InvocationOutcome.run}), `u32` sequence
 * number (index into {@link InvocationOutcome.events}), then the batch's `SessionResponse` bytes.
 */
export interface LiveEvent {
  jobId: string;
  run: number;
  seq: number;
  response: Uint8Array;
}

export function encodeLiveEvent(event: LiveEvent): Buffer {
  const id = Buffer.from(event.jobId, "utf8");
  const message = Buffer.allocUnsafe(10 + id.length + event.response.length);
  message.writeUInt16BE(id.length, 0);
  id.copy(message, 2);
  message.writeUInt32BE(event.run, 2 + id.length);
  message.writeUInt32BE(event.seq, 6 + id.length);
  message.set(event.response, 10 + id.length);
  return message;
}

/** The live event in `message`, or undefined for a message that is not one (too short). */
export function decodeLiveEvent(message: Buffer): LiveEvent | undefined {
  if (message.length < 2) return undefined;
  const idLength = message.readUInt16BE(0);
  if (message.length < 10 + idLength) return undefined;
  return {
    jobId: message.toString("utf8", 2, 2 + idLength),
    run: message.readUInt32BE(2 + idLength),
    seq: message.readUInt32BE(6 + idLength),
    response: message.subarray(10 + idLength),
  };
}

/** A cancellation for the worker running job `j`. */
export interface CancelMessage {
  j: string;
  r: string;
  g: number;
}

/** What Redis holds for distributed execution, read at each metrics scrape (docs/telemetry.md). */
export interface DistributedStats {
  /** Each queue of node invocations: this scheduler's, and every one a live worker serves. */
  queues: { name: string; waiting: number; active: number; delayed: number }[];
  /** The live workers: their runtimes and the invocations running on each (as of its last heartbeat). */
  workers: { id: string; runtimes: readonly string[]; inFlight: number }[];
}
