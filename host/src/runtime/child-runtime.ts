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
import { RuntimeClient } from "./runtime-client.js";
import type { RuntimeConnection } from "./runtime-connection.js";
import {
  describeExit,
  type ProcessExit,
  type ProcessSettings,
  type RuntimeLaunch,
  type RuntimeProcess,
  startRuntimeProcess,
} from "./runtime-process.js";

/** Options of {@link startChildRuntime}. */
export interface ChildRuntimeOptions {
  name: string;
  /** How to start the process; absent when attaching to a runtime started by hand. */
  launch?: RuntimeLaunch;
  /** Attach to a running runtime instead of spawning one (CONDUCTOR_REATTACH). */
  attach?: { address: string; token: string };
  settings: ProcessSettings;
  /** Restart policy: the breaker opens after `maxCrashes` crashes within `crashWindowMs`. */
  maxCrashes?: number;
  crashWindowMs?: number;
  /** Called for noteworthy things (restarts, stdout noise), for the host's log. */
  onNotice?: (message: string) => void;
}

/**
 * A runtime in a child process, supervised: it is started and connected, and when it crashes every in-flight step
 * fails as a retryable `runtime.lost` (naming the node, the exit status and the last stderr lines) and the runtime
 * restarts with exponential backoff, until a crash-loop breaker gives up. Closing drains it, asks it to shut
 * down, closes its stdin, then escalates to SIGTERM and SIGKILL.
 */
export async function startChildRuntime(options: ChildRuntimeOptions): Promise<RuntimeConnection> {
  const runtime = new ChildRuntime(options);
  await runtime.start();
  return runtime;
}

type State = "starting" | "ready" | "restarting" | "broken" | "closed";

class ChildRuntime implements RuntimeConnection {
  private state: State = "starting";
  private process: RuntimeProcess | undefined;
  private client: RuntimeClient | undefined;
  private readonly crashes: number[] = [];
  private readonly queued: {
    request: InvocationRequest;
    sink: InvocationSink;
    control: ForwardingControl;
  }[] = [];
  private brokenReason = "";
  private restartTimer: NodeJS.Timeout | undefined;
  private known:
    | {
        description: RuntimeDescription;
        nodeTypes: readonly NodeType[];
        byType: ReadonlyMap<string, NodeType>;
        supportsSteps: boolean;
      }
    | undefined;

  constructor(private readonly options: ChildRuntimeOptions) {}

  get name(): string {
    return this.options.name;
  }

  // Kept across restarts, so blueprints validate and queue while the runtime comes back.
  get description(): RuntimeDescription {
    return this.known!.description;
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

  async start(): Promise<void> {
    const { settings, name } = this.options;
    const blobs: BlobOptions = { inlineLimit: settings.inlineLimit, blobDir: settings.blobDir };
    let address: string;
    let token: string;
    if (this.options.attach !== undefined) {
      address = this.options.attach.address.startsWith("unix:")
        ? this.options.attach.address.replace(/^unix:\/\//, "unix:")
        : `unix:${this.options.attach.address}`;
      token = this.options.attach.token;
    } else {
      const process = await startRuntimeProcess(name, this.options.launch!, settings);
      this.process = process;
      for (const line of process.noise) {
        this.options.onNotice?.(`runtime "${name}" printed before its handshake line: ${line}`);
      }
      address = process.address;
      token = process.token;
      void process.exited.then((exit) => this.onExit(process, exit));
    }
    try {
      this.client = await RuntimeClient.connect({
        name,
        address,
        token,
        blobs,
        maxMessageBytes: settings.maxMessageBytes,
        connectTimeoutMs: settings.startTimeoutMs,
        onSessionLost: (reason) => this.onSessionLost(reason),
        onUnresponsive: (nodeId) => this.onUnresponsive(nodeId),
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
          throw new ConductorError(
            error.code,
            `${error.message}; its last stderr lines:\n${tail.map((l) => `    ${l}`).join("\n")}`,
            {
              cause: error,
            },
          );
        }
      }
      throw error;
    }
    this.known = {
      description: this.client.description,
      nodeTypes: this.client.nodeTypes,
      byType: new Map(this.client.nodeTypes.map((nodeType) => [nodeType.type, nodeType])),
      supportsSteps: this.client.supportsSteps,
    };
    this.state = "ready";
    for (const { request, sink, control } of this.queued.splice(0))
      control.attach(this.client.execute(request, sink));
  }

  execute(request: InvocationRequest, sink: InvocationSink): InvocationControl {
    if (this.state === "ready") return this.client!.execute(request, sink);
    if (this.state === "broken" || this.state === "closed") {
      sink.rejected({
        message:
          this.state === "broken"
            ? `runtime "${this.name}" is broken: ${this.brokenReason}`
            : `runtime "${this.name}" is closed`,
        type: "runtime.broken",
        retryable: false,
      });
      return { cancel() {} };
    }
    return this.enqueue(request, sink);
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
    clearTimeout(this.restartTimer);
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
    if (this.process !== process || this.state === "closed") return;
    const tail = process.stderrTail().slice(-10);
    const lost = (nodeId: string): FailureInfo => ({
      message: `runtime "${this.name}" exited ${describeExit(exit)} while running node "${nodeId}"${tail.length > 0 ? `; its last stderr lines:\n${tail.map((l) => `    ${l}`).join("\n")}` : ""}`,
      type: "runtime.lost",
      retryable: true,
    });
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) {
      const waiting = client.takeWaiting();
      client.failAll(lost);
      client.close();
      for (const { request, sink } of waiting) this.enqueue(request, sink);
    }
    void process.cleanup();
    this.scheduleRestart(`exited ${describeExit(exit)}`);
  }

  private onSessionLost(reason: string): void {
    // The process is still alive but the stream broke (garbage on the socket, a protocol violation): treat the
    // runtime as lost and restart it, so no step waits forever.
    const process = this.process;
    if (process === undefined) {
      this.client?.failAll((nodeId) => ({
        message: `runtime "${this.name}" closed its session (${reason}) while running node "${nodeId}"`,
        type: "runtime.lost",
        retryable: true,
      }));
      this.state = "broken";
      this.brokenReason = `the attached runtime closed its session: ${reason}`;
      return;
    }
    this.options.onNotice?.(`runtime "${this.name}" session broke (${reason}); restarting it`);
    process.kill("SIGKILL");
  }

  private onUnresponsive(nodeId: string): void {
    if (this.process === undefined) return;
    this.options.onNotice?.(
      `runtime "${this.name}" did not stop node "${nodeId}" after a cancel; restarting it so nothing keeps running`,
    );
    this.process.kill("SIGKILL");
  }

  private scheduleRestart(why: string): void {
    const now = Date.now();
    const window = this.options.crashWindowMs ?? 60_000;
    this.crashes.push(now);
    while (this.crashes.length > 0 && now - this.crashes[0]! > window) this.crashes.shift();
    const maxCrashes = this.options.maxCrashes ?? 5;
    if (this.crashes.length >= maxCrashes) {
      this.state = "broken";
      this.brokenReason = `it crashed ${this.crashes.length} times within ${Math.round(window / 1000)} s (last: ${why}); fix the runtime and start the host again`;
      this.options.onNotice?.(`runtime "${this.name}" is broken: ${this.brokenReason}`);
      for (const { sink } of this.queued.splice(0)) {
        sink.rejected({
          message: `runtime "${this.name}" is broken: ${this.brokenReason}`,
          type: "runtime.broken",
          retryable: false,
        });
      }
      return;
    }
    this.state = "restarting";
    const delay = Math.min(5_000, 100 * 2 ** (this.crashes.length - 1));
    this.options.onNotice?.(`runtime "${this.name}" ${why}; restarting in ${delay} ms`);
    this.restartTimer = setTimeout(() => {
      this.start().catch((error: unknown) => {
        this.scheduleRestart(`failed to restart: ${(error as Error).message}`);
      });
    }, delay);
    this.restartTimer.unref();
  }
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
