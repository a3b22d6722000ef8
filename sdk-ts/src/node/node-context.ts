import type { StreamResume } from "./stream-port.js";

/** Writes log lines that travel with the node's events (never to stdout, which belongs to the protocol). */
export interface NodeLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * What a running node can see and do besides its inputs. One context exists per step; it is the same whether the
 * node runs in the host's process or in the Node sidecar.
 */
export interface NodeContext<Config = unknown> {
  /** The node's config from the blueprint, parsed by the node type's config schema. */
  readonly config: Config;
  /** The node's id in the blueprint, e.g. "fetch". */
  readonly nodeId: string;
  readonly nodeType: string;
  readonly executionId: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /**
   * For a retry of a producer whose stream failed after a checkpoint (`checkpoint()`, docs/streaming.md): where
   * each of its stream outputs resumes, by port. Undefined otherwise (the stream starts from its first item).
   */
  readonly resume?: Readonly<Record<string, StreamResume>> | undefined;
  /** Aborted when the execution is cancelled or the step's timeout passes; pass it to fetch, timers, etc. */
  readonly signal: AbortSignal;
  readonly log: NodeLogger;
  /** Reports progress: a fraction from 0 to 1 (negative when unknown) and an optional message. */
  progress(fraction: number, message?: string): void;
  /** Streams a partial output on a port while the node runs. */
  emit(port: string, value: unknown): void;
  /** Tells the host the node is alive, optionally with checkpoint details. */
  heartbeat(details?: unknown): void;
}
