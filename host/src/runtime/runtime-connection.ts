import type { InvocationControl } from "@conductor/sdk";
import type {
  InvocationRequest,
  InvocationSink,
  NodeType,
  RuntimeDescription,
} from "@conductor/sdk/protocol";
import type { ConfigDiagnostic } from "../blueprint/validate-blueprint.js";

/**
 * The host's view of one runtime, whatever transport reaches it: the in-process runtime for built-in TypeScript
 * nodes, or a child process over gRPC. The scheduler only talks to this interface.
 */
export interface RuntimeConnection {
  readonly name: string;
  readonly description: RuntimeDescription;
  readonly nodeTypes: readonly NodeType[];
  /** One node type, or undefined when the runtime does not serve it. */
  findNodeType(type: string): NodeType | undefined;
  /** Whether one invocation may carry several steps (a chain of nodes in one round trip). */
  readonly supportsSteps: boolean;
  /**
   * Whether every output it gives was checked against its node type's output schema before it left (the
   * in-process runtime). Its outputs on an edge the validator proved compatible are then not checked again by
   * the consumer (scheduler/checked-inputs.ts).
   */
  readonly checksOutputs?: boolean;
  /**
   * Whether it runs in the host's process and is handed values as they are (the in-process and sub-blueprint
   * runtimes): a list of Arrow tables, for instance, which has no wire form for a child runtime.
   */
  readonly takesLiveValues?: boolean;
  /**
   * Starts an invocation; events arrive on `sink`. Invocations beyond the runtime's max concurrency wait in a
   * queue. Never throws: a problem is reported as `sink.rejected` or as a failed step.
   */
  execute(request: InvocationRequest, sink: InvocationSink): InvocationControl;
  validateConfig(nodeType: string, config: Record<string, unknown>): Promise<ConfigDiagnostic[]>;
  /** How the runtime is doing now; a runtime without it (in-process, sub-blueprints) is always `ok`. */
  health?(): RuntimeHealth;
  /** Drains and stops the runtime. */
  close(): Promise<void>;
}

/**
 * The state of a runtime, for `/healthz`, `conductor serve`'s output and errors: `ok` (serving), `starting`
 * (first start), `restarting` (after a crash, or trying again after a cool-down) or `broken` (it keeps failing;
 * invocations are refused with the reason until a start succeeds again).
 */
export interface RuntimeHealth {
  name: string;
  state: "ok" | "starting" | "restarting" | "broken";
  /** Why it is not `ok`: the crash, the start failure or the breaker's reason. */
  reason?: string;
  /** The process id, for a runtime in a child process that runs. */
  pid?: number;
  /** How many times it was restarted. */
  restarts: number;
  /** How many node types it serves (0 until it has started once). */
  nodeTypes: number;
}
