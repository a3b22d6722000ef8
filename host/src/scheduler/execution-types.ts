import type { FailureInfo } from "@conductor/sdk/protocol";
import type { ExecutionTrace } from "../telemetry/execution-trace.js";
import type {
  CompensationRecord,
  EventHub,
  ExecutionLineage,
  ExecutionStatus,
  NodeFailureRecord,
  NodeStatus,
} from "./execution-events.js";

/** What an execution recorded about one node. */
export interface NodeRecord {
  nodeId: string;
  type: string;
  runtime: string;
  status: NodeStatus;
  attempt: number;
  /** Milliseconds since the epoch, when it started. */
  startedAt?: number;
  durationMs?: number;
  /** Output values; values from other processes stay encoded until read (see `toLive`). */
  outputs?: Record<string, unknown>;
  failure?: FailureInfo;
}

/** The outcome of an execution. */
export interface ExecutionResult {
  executionId: string;
  blueprintId: string;
  status: ExecutionStatus;
  /**
   * The blueprint's outputs, decoded. A large output a child runtime handed over as a blob file is read and decoded
   * the first time its property is read, not when the execution ends.
   */
  outputs: Record<string, unknown>;
  /**
   * The same outputs as the execution recorded them: a large output of a child runtime still a reference to its
   * blob file (an `EncodedValue`), the rest decoded. For passing outputs on (the API's handles, the journal) without
   * decoding them.
   */
  encodedOutputs?: Record<string, unknown>;
  /** The failure that failed the execution. */
  failure?: NodeFailureRecord;
  /** Failures the error policies handled (`onError: continue` or `route`); the execution went on. */
  handledFailures: NodeFailureRecord[];
  /** Compensations run after a failure, in the order they ran. */
  compensations: CompensationRecord[];
  startedAt: number;
  durationMs: number;
  nodes: Record<string, NodeRecord>;
}

/** A persistent cache of node results, keyed by {@link cacheKey}. */
export interface ResultCache {
  get(key: string): Record<string, unknown> | undefined;
  put(key: string, nodeType: string, outputs: Record<string, unknown>): void;
}

/** The journal's promise: records are made durable in batches; `flush` waits for the current batch. */
export interface Durability {
  readonly pending: boolean;
  flush(): Promise<void>;
}

/** What a resumed execution already knows of its nodes, from the journal. */
export interface ResumeState {
  /** The last event number recorded; new events continue after it. */
  lastSeq: number;
  /** Nodes that finished, by index, in the order they finished. */
  finished: {
    index: number;
    status: "completed" | "cached" | "skipped" | "failed";
    outputs?: Record<string, unknown>;
    attempt: number;
    failure?: FailureInfo;
  }[];
  /** Attempts already made by nodes that did not finish (a running node is tried again). */
  attempts: Map<number, number>;
  /** A node had failed the execution before the host stopped: the execution finishes failed. */
  failed?: { index: number; failure: FailureInfo };
  /** Emit the finished nodes as cached completions (a re-run reusing another execution's results). */
  replay?: boolean;
}

/** Options of one execution. */
export interface ExecutionOptions {
  executionId: string;
  inputs: Record<string, unknown>;
  /** Most invocations of this execution running at once. */
  maxConcurrency: number;
  hub: EventHub;
  cache?: ResultCache | undefined;
  durability?: Durability | undefined;
  resume?: ResumeState | undefined;
  /** Where a new execution comes from, recorded with its start. */
  lineage?: ExecutionLineage | undefined;
  /** The execution's spans, when tracing is on (host/src/telemetry). */
  trace?: ExecutionTrace | undefined;
}
