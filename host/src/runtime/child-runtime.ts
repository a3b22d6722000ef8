import type { InvocationControl } from "@conductor/sdk";
import type {
  BlobOptions,
  FailureInfo,
  InvocationRequest,
  InvocationSink,
  NodeType,
  RuntimeDescription,
} from "@conductor/sdk/protocol";
import type { ConfigDiagnostic } from "../blueprint/validate-blueprint.js";
import { ConductorError } from "../errors.js";
import {
  type CrashLoopBreaker,
  type CrashLoopBreakerOptions,
  createCrashLoopBreaker,
  type RestartDecision,
} from "./crash-loop-breaker.js";
import { RuntimeClient } from "./runtime-client.js";
import type { RuntimeConnection, RuntimeHealth } from "./runtime-connection.js";
import {
  describeExit,
  type ProcessExit,
  type ProcessSettings,
  type RuntimeLaunch,
  type RuntimeProcess,
  startRuntimeProcess,
} from "./runtime-process.js";

/** How the host watches and restarts the runtimes it starts; every field has a default, small ones suit tests. */
export interface SupervisionOptions {
  /** Backoff between restarts, the crash-loop breaker and its cool-down. */
  breaker?: CrashLoopBreakerOptions;
  /**
   * How long a cancelled step (cancelled by the execution, or by the host at its timeout) may take to stop before
   * the host restarts its runtime so that nothing keeps running. Default 2000 ms.
   */
  cancelGraceMs?: number;
  /**
   * Liveness: the host sends an HTTP/2 PING on each runtime's connection after this long without one. Default
   * 10 s.
   */
  pingIntervalMs?: number;
  /** A runtime that does not answer a PING within this long is frozen: it is killed and restarted. Default 20 s. */
  pingTimeoutMs?: number;
  /**
   * Whether a broken runtime (its breaker open) is tried again after the cool-down. Default true, for a host that
   * keeps running (`serve`); a one-shot command passes false: it reports the failure and ends, so it neither waits
   * for nor announces a retry, and a failure of the first start is left to the caller, who reports the error.
   */
  retryBroken?: boolean;
}

/** Options of {@link createChildRuntime}. */
export interface ChildRuntimeOptions {
  name: string;
  /**
   * How to start the process, or how to find out (set-up such as a venv or a build, run before the first start and
   * again after a cool-down until it succeeds once); absent when attaching to a runtime started by hand.
   */
  launch?: RuntimeLaunch | (() => Promise<RuntimeLaunch>);
  /** Attach to a running runtime instead of spawning one (CONDUCTOR_REATTACH). */
  attach?: { address: string; token: string };
  settings: ProcessSettings;
  supervision?: SupervisionOptions;
  /** Called for noteworthy things (restarts, stdout noise), for the host's log. */
  onNotice?: (message: string) => void;
}

/** A supervised runtime in a child process; {@link ChildRuntime.start} starts it. */
export interface ChildRuntime extends RuntimeConnection {
  /**
   * Starts the runtime. On failure the runtime is `broken` with the error as its reason, invocations are refused
   * with it, a start is tried again after the breaker's cool-down, and the error is thrown for the caller to
   * report.
   */
  start(): Promise<void>;
  health(): RuntimeHealth;
  /** The error of the last failed start while the runtime has never started; undefined once it has. */
  readonly startError: Error | undefined;
}

/**
 * A runtime in a child process, supervised: it is started and connected; when it crashes, stops answering the
 * host's liveness pings, or does not stop a cancelled step within the grace period, every step in flight fails as a
 * retryable `runtime.lost` (naming the node, what happened and the last stderr lines) and the runtime restarts
 * with exponential backoff, until the crash-loop breaker opens; after a cool-down it tries again. Invocations sent
 * while it (re)starts wait for it. Closing drains it, asks it to shut down, closes its stdin, then escalates to
 * SIGTERM and SIGKILL.
 */
export function createChildRuntime(options: ChildRuntimeOptions): ChildRuntime {
  return new SupervisedRuntime(options);
}

/** Creates a child runtime and starts it; throws the start error (see {@link ChildRuntime.start}). */
export async function startChildRuntime(options: ChildRuntimeOptions): Promise<ChildRuntime> {
  const runtime = createChildRuntime(options);
  await runtime.start();
  return runtime;
}

type State = "starting" | "ready" | "restarting" | "broken" | "closed";

/** How long the host waits for a runtime whose connection dropped to exit by itself before it kills it. */
const EXIT_AFTER_DROP_MS = 1_000;

class SupervisedRuntime implements ChildRuntime {
  private state: State = "starting";
  private process: RuntimeProcess | undefined;
  private client: RuntimeClient | undefined;
  private readonly breaker: CrashLoopBreaker;
  private readonly queued: {
    request: InvocationRequest;
    sink: InvocationSink;
    control: ForwardingControl;
  }[] = [];
  /** Why the runtime is not ready (restarting or broken). */
  private reason = "";
  /** Why the host killed the current process, when it did: the failures of its steps say so. */
  private killedBecause: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private everStarted = false;
  startError: Error | undefined;
  private launch: RuntimeLaunch | undefined;
  private known:
    | {
        description: RuntimeDescription;
        nodeTypes: readonly NodeType[];
        byType: ReadonlyMap<string, NodeType>;
        supportsSteps: boolean;
      }
    | undefined;

  constructor(private readonly options: ChildRuntimeOptions) {
    this.breaker = createCrashLoopBreaker(options.supervision?.breaker);
  }

  get name(): string {
    return this.options.name;
  }

  // Kept across restarts, so blueprints validate and queue while the runtime comes back.
  get description(): RuntimeDescription {
    return (
      this.known?.description ?? {
        abiVersion: 0,
        name: this.name,
        language: "unknown",
        version: "",
        pid: 0,
        features: [],
        maxConcurrency: 1,
        maxMessageBytes: 0,
        schemaHash: "",
      }
    );
  }

  get nodeTypes(): readonly NodeType[] {
    return this.known?.nodeTypes ?? [];
  }

  findNodeType(type: string): NodeType | undefined {
    return this.known?.byType.get(type);
  }

  get supportsSteps(): boolean {
    return this.known?.supportsSteps ?? false;
  }

  health(): RuntimeHealth {
    const state =
      this.state === "ready"
        ? "ok"
        : this.state === "closed"
          ? "broken"
          : this.state === "starting"
            ? "starting"
            : this.state;
    return {
      name: this.name,
      state,
      ...(state === "ok" ? {} : { reason: this.state === "closed" ? "the host closed it" : this.reason }),
      ...(this.process === undefined || state !== "ok" ? {} : { pid: this.process.pid }),
      restarts: this.breaker.restarts,
      nodeTypes: this.nodeTypes.length,
    };
  }

  async start(): Promise<void> {
    try {
      await this.connect();
    } catch (error) {
      if (this.state !== "closed") {
        this.startError = error as Error;
        this.apply(this.breaker.open((error as Error).message), "failed to start", this.retriesBroken);
      }
      throw error;
    }
  }

  /** Spawns (or attaches), connects, and sends what waited; throws when the runtime does not come up. */
  private async connect(): Promise<void> {
    const { settings, name } = this.options;
    const supervision = this.options.supervision ?? {};
    const blobs: BlobOptions = { inlineLimit: settings.inlineLimit, blobDir: settings.blobDir };
    let address: string;
    let token: string;
    if (this.options.attach !== undefined) {
      address = this.options.attach.address.startsWith("unix:")
        ? this.options.attach.address.replace(/^unix:\/\//, "unix:")
        : `unix:${this.options.attach.address}`;
      token = this.options.attach.token;
    } else {
      const launch = this.options.launch!;
      this.launch ??= typeof launch === "function" ? await launch() : launch;
      const process = await startRuntimeProcess(name, this.launch, settings);
      if (this.state === "closed") {
        process.kill("SIGKILL");
        await process.exited;
        await process.cleanup();
        throw new ConductorError("closed", `runtime "${name}" was closed while it started`);
      }
      this.process = process;
      this.killedBecause = undefined;
      for (const line of process.noise) {
        this.options.onNotice?.(`runtime "${name}" printed before its handshake line: ${line}`);
      }
      address = process.address;
      token = process.token;
      void process.exited.then((exit) => this.onExit(process, exit));
    }
    let client: RuntimeClient;
    try {
      client = await RuntimeClient.connect({
        name,
        address,
        token,
        blobs,
        maxMessageBytes: settings.maxMessageBytes,
        connectTimeoutMs: settings.startTimeoutMs,
        cancelGraceMs: supervision.cancelGraceMs ?? 2_000,
        pingIntervalMs: supervision.pingIntervalMs ?? 10_000,
        pingTimeoutMs: supervision.pingTimeoutMs ?? 20_000,
        onSessionLost: (reason) => this.onSessionLost(reason),
        onUnresponsive: (nodeId, graceMs) =>
          this.kill(`did not stop node "${nodeId}" within ${graceMs} ms of its cancellation`),
      });
    } catch (error) {
      const process = this.process;
      if (process !== undefined) {
        // A failed start is reported to the caller; the exit it causes is not a crash to restart from.
        this.process = undefined;
        const tail = process.stderrTail().slice(-10);
        process.kill("SIGKILL");
        void process.exited.then(() => process.cleanup());
        if (error instanceof ConductorError && tail.length > 0) {
          throw new ConductorError(error.code, `${error.message}${stderrTail(tail)}`, { cause: error });
        }
      }
      throw error;
    }
    if (this.state === "closed") {
      client.close();
      throw new ConductorError("closed", `runtime "${name}" was closed while it started`);
    }
    this.client = client;
    this.known = {
      description: client.description,
      nodeTypes: client.nodeTypes,
      byType: new Map(client.nodeTypes.map((nodeType) => [nodeType.type, nodeType])),
      supportsSteps: client.supportsSteps,
    };
    if (this.state === "restarting") {
      this.options.onNotice?.(`runtime "${name}" is back (pid ${this.process?.pid ?? "?"})`);
    }
    this.everStarted = true;
    this.startError = undefined;
    this.breaker.started();
    this.state = "ready";
    this.reason = "";
    for (const { request, sink, control } of this.queued.splice(0))
      control.attach(client.execute(request, sink));
  }

  execute(request: InvocationRequest, sink: InvocationSink): InvocationControl {
    if (this.state === "ready") return this.client!.execute(request, sink);
    if (this.state === "broken" || this.state === "closed") {
      sink.rejected(this.refusal());
      return { cancel() {} };
    }
    return this.enqueue(request, sink);
  }

  private refusal(): FailureInfo {
    return {
      message:
        this.state === "broken"
          ? `runtime "${this.name}" is broken: ${this.reason}`
          : `runtime "${this.name}" is closed`,
      type: "runtime.broken",
      retryable: false,
    };
  }

  /** Holds an invocation until the runtime is ready; cancelling it meanwhile ends it at once. */
  private enqueue(request: InvocationRequest, sink: InvocationSink): ForwardingControl {
    const control = new ForwardingControl(() => {
      const index = this.queued.findIndex((entry) => entry.control === control);
      if (index < 0) return false;
      this.queued.splice(index, 1);
      sink.cancelled(0, control.cancelReason ?? "cancelled");
      return true;
    });
    this.queued.push({ request, sink, control });
    return control;
  }

  async validateConfig(nodeType: string, config: Record<string, unknown>): Promise<ConfigDiagnostic[]> {
    if (this.client === undefined) return [];
    return this.client.validateConfig(nodeType, config);
  }

  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closed";
    clearTimeout(this.timer);
    for (const { sink } of this.queued.splice(0)) sink.rejected(this.refusal());
    const process = this.process;
    if (this.options.attach !== undefined) {
      // An attached runtime belongs to whoever started it (docs/protocol.md §1.6): closing the session cancels what
      // it still runs, and the runtime stays up, without Drain or Shutdown, for the next run.
      this.client?.close();
      return;
    }
    await this.client?.shutdown(2_000);
    if (process === undefined) return;
    process.closeStdin();
    const exitedWithin = (ms: number) =>
      Promise.race([
        process.exited.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref()),
      ]);
    if (!(await exitedWithin(2_000))) {
      process.kill("SIGTERM");
      if (!(await exitedWithin(5_000))) process.kill("SIGKILL");
    }
    await process.exited;
    await process.cleanup();
  }

  private onExit(process: RuntimeProcess, exit: ProcessExit): void {
    // While it connects, a process that exits is connect()'s failure to report, not a crash.
    if (this.process !== process || this.state === "closed" || this.client === undefined) return;
    const tail = process.stderrTail().slice(-10);
    const because = this.killedBecause;
    const what = because ?? `exited ${describeExit(exit)}`;
    const lost = (nodeId: string): FailureInfo => ({
      message:
        because === undefined
          ? `runtime "${this.name}" ${what} while running node "${nodeId}"${stderrTail(tail)}`
          : `runtime "${this.name}" was killed by the host while running node "${nodeId}", because it ${because}; it restarts${stderrTail(tail)}`,
      type: "runtime.lost",
      retryable: true,
    });
    this.process = undefined;
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) {
      const waiting = client.takeWaiting();
      client.failAll(lost);
      client.close();
      for (const { request, sink } of waiting) this.enqueue(request, sink);
    }
    void process.cleanup();
    this.apply(this.breaker.crashed(what), what);
  }

  private onSessionLost(reason: string): void {
    const process = this.process;
    if (process === undefined) {
      // An attached runtime: nothing to restart.
      this.client?.failAll((nodeId) => ({
        message: `runtime "${this.name}" closed its session (${reason}) while running node "${nodeId}"`,
        type: "runtime.lost",
        retryable: true,
      }));
      this.client?.close();
      this.client = undefined;
      this.apply(this.breaker.open(`the attached runtime closed its session: ${reason}`), "");
      return;
    }
    // Work sent from now on waits for the restart instead of going to a connection that is gone.
    if (this.state === "ready") this.state = "restarting";
    this.reason = `its connection dropped (${reason})`;
    // A runtime that died closes its socket a moment before the host sees it exit: give the exit event the first
    // word, so that a crash is reported as the crash it is. A process still there broke its session or stopped
    // answering the host's liveness pings (frozen, stopped, deadlocked): kill it so that it restarts.
    const timer = setTimeout(() => {
      if (this.process !== process) return;
      const ping = this.options.supervision?.pingTimeoutMs ?? 20_000;
      this.kill(
        `stopped answering: no answer to the host's liveness ping within ${ping} ms, or a broken protocol (its connection dropped with "${reason}" while its process still ran)`,
      );
    }, EXIT_AFTER_DROP_MS);
    timer.unref();
  }

  /**
   * Kills the process for a reason of the host's; its exit then fails its steps with that reason and restarts it.
   * Gives false when there is no process to kill (an attached runtime).
   */
  private kill(because: string): boolean {
    const process = this.process;
    if (process === undefined) return false;
    if (this.killedBecause === undefined) {
      this.killedBecause = because;
      this.options.onNotice?.(`runtime "${this.name}" ${because}; restarting it so nothing keeps running`);
    }
    // Work sent from now on waits for the new process, so a retry never runs beside the step that did not stop.
    if (this.state === "ready") this.state = "restarting";
    this.reason = because;
    process.kill("SIGKILL");
    return true;
  }

  private get retriesBroken(): boolean {
    return this.options.supervision?.retryBroken !== false;
  }

  /**
   * Acts on the breaker's decision: restart after a delay, or stay broken until the cool-down passes (or for good,
   * without `retryBroken`). `announce` false leaves the notice of a broken runtime to whoever reports the failure.
   */
  private apply(decision: RestartDecision, why: string, announce = true): void {
    if (this.state === "closed") return;
    clearTimeout(this.timer);
    if (decision.kind === "restart") {
      this.state = "restarting";
      this.reason = why;
      this.options.onNotice?.(`runtime "${this.name}" ${why}; restarting in ${decision.delayMs} ms`);
      this.timer = setTimeout(() => this.restart(), decision.delayMs);
    } else {
      this.state = "broken";
      if (!this.retriesBroken) {
        this.reason = `${decision.reason}; fix the runtime`;
        if (announce) this.options.onNotice?.(`runtime "${this.name}" is broken: ${this.reason}`);
        for (const { sink } of this.queued.splice(0)) sink.rejected(this.refusal());
        return;
      }
      this.reason = `${decision.reason}; fix the runtime: the host tries to start it again in ${seconds(decision.retryInMs)}`;
      if (announce) this.options.onNotice?.(`runtime "${this.name}" is broken: ${this.reason}`);
      for (const { sink } of this.queued.splice(0)) sink.rejected(this.refusal());
      this.timer = setTimeout(() => {
        this.breaker.halfOpen();
        this.state = "restarting";
        this.reason = "trying to start it again after a cool-down";
        this.options.onNotice?.(`runtime "${this.name}": ${this.reason}`);
        this.restart();
      }, decision.retryInMs);
    }
    this.timer.unref();
  }

  private restart(): void {
    this.connect().catch((error: unknown) => {
      if (this.state === "closed") return;
      const message = (error as Error).message;
      if (!this.everStarted) this.startError = error as Error;
      this.apply(this.breaker.startFailed(message), `failed to restart: ${message}`);
    });
  }
}

function stderrTail(tail: readonly string[]): string {
  return tail.length > 0 ? `; its last stderr lines:\n${tail.map((l) => `    ${l}`).join("\n")}` : "";
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}

/** Control of an invocation queued while the runtime (re)starts. */
class ForwardingControl implements InvocationControl {
  cancelReason: string | undefined;
  private inner: InvocationControl | undefined;

  constructor(private readonly cancelQueued: () => boolean) {}

  attach(inner: InvocationControl): void {
    this.inner = inner;
  }

  cancel(reason: string): void {
    if (this.cancelReason !== undefined) return;
    this.cancelReason = reason;
    if (this.inner !== undefined) this.inner.cancel(reason);
    else this.cancelQueued();
  }
}
