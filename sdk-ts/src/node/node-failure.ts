import { type FailureInfo, failureInfoBrand, toFailureInfo } from "../protocol/failure.js";

/** Options of a {@link NodeFailure}. */
export interface NodeFailureOptions {
  /** Whether trying again may succeed. Default false: a failure a node raises on purpose is usually final. */
  retryable?: boolean;
  /** A short classifier, e.g. "http.status". Default "node.failure". */
  type?: string;
  /** Structured, JSON-serializable details. */
  details?: unknown;
  /** A delay the node suggests before the next attempt, in milliseconds. */
  retryDelayMs?: number;
  cause?: unknown;
}

/**
 * Throw this from a node to fail it on purpose, saying whether a retry may help. Anything else a node throws
 * becomes a retryable failure typed by its class name.
 *
 * @example
 * if (response.status === 429) throw new NodeFailure("rate limited", { retryable: true, retryDelayMs: 1000 });
 */
export class NodeFailure extends Error {
  override readonly name = "NodeFailure";
  readonly retryable: boolean;
  readonly type: string;
  readonly details: unknown;
  readonly retryDelayMs: number | undefined;

  constructor(message: string, options: NodeFailureOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? false;
    this.type = options.type ?? "node.failure";
    this.details = options.details;
    this.retryDelayMs = options.retryDelayMs;
  }

  /** Works across duplicate copies of this package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && failureInfoBrand in value;
  }

  get [failureInfoBrand](): true {
    return true;
  }

  /** The ABI form of this failure. */
  toFailureInfo(): FailureInfo {
    const info: FailureInfo = { message: this.message, type: this.type, retryable: this.retryable };
    if (this.details !== undefined) info.details = this.details;
    if (this.stack !== undefined) info.stack = this.stack;
    if (this.retryDelayMs !== undefined) info.retryDelayMs = this.retryDelayMs;
    if (this.cause !== undefined) info.cause = toFailureInfo(this.cause);
    return info;
  }
}
