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
  events: string[];
}

/** Live event: job id, sequence number (index into {@link InvocationOutcome.events}), SessionResponse base64. */
export interface LiveEvent {
  j: string;
  /** The delivery of the job ({@link InvocationOutcome.run}). */
  r: number;
  s: number;
  d: string;
}

/** A cancellation for the worker running job `j`. */
export interface CancelMessage {
  j: string;
  r: string;
  g: number;
}
