import type { NodeDefinition } from "@conductor/sdk";
import { loadNodeModules } from "@conductor/sdk/load";
import { DEFAULT_INLINE_LIMIT, DEFAULT_MAX_MESSAGE_BYTES, ENV, type NodeType } from "@conductor/sdk/protocol";
import type { ConfigDiagnostic, NodeTypeCatalog } from "../blueprint/validate-blueprint.js";
import { ConductorError } from "../errors.js";
import type { Project } from "../project/project-config.js";
import { startWasmRuntime, type WasmRuntimeSpec } from "../wasm/load-wasm-modules.js";
import { type BlobDirectory, createBlobDirectory } from "./blob-directory.js";
import { type ChildRuntime, createChildRuntime, type SupervisionOptions } from "./child-runtime.js";
import { enforceTimeouts } from "./enforce-timeouts.js";
import { createInProcessRuntime } from "./in-process-runtime.js";
import { prepareLaunch } from "./launchers/prepare-launch.js";
import type { RuntimeConnection, RuntimeHealth } from "./runtime-connection.js";

/** Options of {@link createRuntimeRegistry}. */
export interface RuntimeRegistryOptions {
  project: Project;
  /** In-process node definitions besides the project's node modules (the built-in library, code-defined nodes). */
  nodes: readonly NodeDefinition[];
  /** Name of the in-process runtime. Default "builtin". */
  inProcessName?: string;
  /** Values above this many bytes travel as blobs. */
  inlineLimit?: number;
  startTimeoutMs?: number;
  /** How runtimes are watched and restarted (breaker, cancel grace, liveness pings). */
  supervision?: SupervisionOptions;
  /** Receives notices (restarts, set-up progress, stdout noise) for the log. */
  onNotice?: (message: string) => void;
  /** Receives each stderr line of each runtime. */
  onRuntimeStderr?: (runtime: string, line: string) => void;
  /**
   * Receives each line a runtime writes to stdout after its handshake line (a mistake of the runtime's: stdout is
   * reserved for that line). Whether or not this is given, the first such line of each runtime becomes a notice.
   */
  onRuntimeStdout?: (runtime: string, line: string) => void;
  /**
   * Runtimes of the project that run elsewhere (on workers, through Redis): they are not started here, `connect`
   * gives their connection instead (see distributed/remote-runtime.ts).
   */
  remote?: {
    names: readonly string[];
    connect(name: string): Promise<RuntimeConnection>;
    /** Called last by {@link RuntimeRegistry.close}. */
    close(): Promise<void>;
  };
}

/**
 * All runtimes of a project and the node types each serves. The in-process runtime is always there; runtimes in
 * child processes start on first need (a blueprint using a type no running runtime serves, `conductor nodes`, or
 * the server), so a blueprint of built-in nodes never pays for starting Python.
 */
export class RuntimeRegistry implements NodeTypeCatalog {
  private readonly connections = new Map<string, RuntimeConnection>();
  private readonly children = new Map<string, ChildRuntime>();
  private readonly wasmStartErrors = new Map<string, Error>();
  private externalStart: Promise<void> | undefined;
  private blobDir: BlobDirectory | undefined;
  private readonly remoteErrors = new Map<string, Error>();
  private closed = false;

  private constructor(
    private readonly options: RuntimeRegistryOptions,
    inProcess: RuntimeConnection,
  ) {
    this.addConnection(inProcess);
  }

  static async create(options: RuntimeRegistryOptions): Promise<RuntimeRegistry> {
    return new RuntimeRegistry(options, await createProjectInProcess(options));
  }

  /** Every connection started so far, by runtime name. */
  get runtimes(): ReadonlyMap<string, RuntimeConnection> {
    return this.connections;
  }

  /** The names of the project's runtimes, started or not. */
  runtimeNames(): string[] {
    return [...new Set([...this.connections.keys(), ...Object.keys(this.options.project.runtimes)])];
  }

  /** Adds a connection the host provides itself (the sub-blueprint runtime). */
  addConnection(connection: RuntimeConnection): void {
    // The host cannot restart its own runtimes: a step that ignores its timeout there ends without a retry.
    this.connections.set(
      connection.name,
      enforceTimeouts(connection, { graceMs: this.graceMs, restartsUnresponsive: false }),
    );
  }

  private get graceMs(): number {
    return this.options.supervision?.cancelGraceMs ?? 2_000;
  }

  /** Whether every external runtime of the project has been started. */
  get allStarted(): boolean {
    return Object.keys(this.options.project.runtimes).every((name) => this.connections.has(name));
  }

  /**
   * Starts the project's child-process runtimes (once; concurrent callers share the start). Never fails: a runtime
   * that does not start stays registered as `broken` (see {@link health} and {@link startProblem}) and tries again
   * after a cool-down, while the others serve.
   */
  startExternal(): Promise<void> {
    this.externalStart ??= this.doStartExternal();
    return this.externalStart;
  }

  /**
   * Starts external runtimes if a blueprint needs a type or runtime the running ones do not have; throws the start
   * error of the runtimes that never started when something is still missing, because their node types are
   * unknown and the blueprint's "unknown node type" is most likely theirs.
   */
  async ensureFor(types: Iterable<string>, runtimeNames: Iterable<string>): Promise<void> {
    const typeList = [...types];
    const nameList = [...runtimeNames];
    const missing = () =>
      typeList.some((type) => this.runtimesFor(type).length === 0) ||
      nameList.some(
        (name) => !this.connections.has(name) || this.children.get(name)?.startError !== undefined,
      );
    if (!missing()) return;
    if (!this.allStarted) await this.startExternal();
    if (!missing()) return;
    const problem = this.startProblem();
    if (problem !== undefined) throw problem;
  }

  /**
   * The start errors of the runtimes that never started (their node types are unknown), as one error with the
   * first one's code; undefined when every runtime has started at least once.
   */
  startProblem(): Error | undefined {
    const errors: Error[] = [...this.remoteErrors.values()];
    for (const connection of this.children.values()) {
      if (connection.startError !== undefined) errors.push(connection.startError);
    }
    errors.push(...this.wasmStartErrors.values());
    if (errors.length <= 1) return errors[0];
    const first = errors[0]!;
    return new ConductorError(
      first instanceof ConductorError ? first.code : "runtime_start_failed",
      errors.map((error) => error.message).join("\n"),
      { cause: first },
    );
  }

  /** How each runtime is doing: every runtime started so far, and the project's others as not started yet. */
  health(): RuntimeHealth[] {
    const entries: RuntimeHealth[] = [];
    for (const [name, connection] of this.connections) {
      entries.push(
        connection.health?.() ?? { name, state: "ok", restarts: 0, nodeTypes: connection.nodeTypes.length },
      );
    }
    for (const name of Object.keys(this.options.project.runtimes)) {
      if (this.connections.has(name)) continue;
      const startError = this.remoteErrors.get(name) ?? this.wasmStartErrors.get(name);
      if (startError !== undefined) {
        entries.push({ name, state: "broken", reason: startError.message, restarts: 0, nodeTypes: 0 });
        continue;
      }
      entries.push({
        name,
        state: "starting",
        reason: "not started yet: it starts when a blueprint first needs it",
        restarts: 0,
        nodeTypes: 0,
      });
    }
    return entries;
  }

  runtimesFor(type: string): string[] {
    const names: string[] = [];
    for (const [name, connection] of this.connections) {
      if (connection.findNodeType(type) !== undefined) names.push(name);
    }
    return names;
  }

  features(runtime: string): readonly string[] | undefined {
    return this.connections.get(runtime)?.description.features;
  }

  takesLiveValues(runtime: string): boolean | undefined {
    return this.connections.get(runtime)?.takesLiveValues;
  }

  nodeType(type: string, runtime: string): NodeType | undefined {
    return this.connections.get(runtime)?.findNodeType(type);
  }

  *knownTypes(): Iterable<string> {
    for (const connection of this.connections.values()) {
      for (const nodeType of connection.nodeTypes) yield nodeType.type;
    }
  }

  validateConfig(
    runtime: string,
    type: string,
    config: Record<string, unknown>,
  ): Promise<ConfigDiagnostic[]> {
    const connection = this.connections.get(runtime);
    if (connection === undefined) return Promise.resolve([]);
    return connection.validateConfig(type, config);
  }

  /** Stops every runtime and removes the blob directory. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.externalStart?.catch(() => {});
    await Promise.all([...this.connections.values()].map((connection) => connection.close().catch(() => {})));
    await this.options.remote?.close().catch(() => {});
    await this.blobDir?.remove();
  }

  private async doStartExternal(): Promise<void> {
    const { project, remote } = this.options;
    const remoteNames = remote?.names ?? [];
    await Promise.all(
      remoteNames.map(async (name) => {
        try {
          const connection = await remote!.connect(name);
          this.remoteErrors.delete(name);
          this.connections.set(
            name,
            enforceTimeouts(connection, { graceMs: this.graceMs, restartsUnresponsive: false }),
          );
        } catch (error) {
          this.remoteErrors.set(name, error as Error);
        }
      }),
    );
    const names = Object.keys(project.runtimes).filter((name) => !remoteNames.includes(name));
    if (names.length === 0) return;
    this.blobDir ??= await createBlobDirectory({ projectDir: project.dir });
    const reattach = parseReattach(process.env[ENV.reattach]);
    await Promise.all(
      names.map(async (name) => {
        const spec = project.runtimes[name]!;
        if (spec.kind === "wasm") {
          await this.startWasm(name, spec);
          return;
        }
        const connection = this.createChild(name, reattach[name]);
        // A runtime that does not start is broken, with its error as the reason; the others serve.
        await connection.start().catch(() => {});
      }),
    );
  }

  private createChild(name: string, attach?: { address: string; token: string }): ChildRuntime {
    const { project } = this.options;
    const connection = createChildRuntime({
      name,
      ...(attach === undefined
        ? {
            launch: () =>
              prepareLaunch(name, project.runtimes[name]!, project, {
                onProgress: (message) => this.options.onNotice?.(message),
              }),
          }
        : { attach }),
      settings: this.settingsFor(name),
      ...(this.options.supervision === undefined ? {} : { supervision: this.options.supervision }),
      ...(this.options.onNotice === undefined ? {} : { onNotice: this.options.onNotice }),
    });
    this.children.set(name, connection);
    this.connections.set(
      name,
      enforceTimeouts(connection, { graceMs: this.graceMs, restartsUnresponsive: attach === undefined }),
    );
    return connection;
  }

  /**
   * Starts a new generation of a runtime after its code changed (`conductor dev`): a child-process runtime is
   * launched again (a Rust crate is rebuilt first when its sources are newer), the in-process runtime loads the
   * project's node modules afresh, a wasm runtime loads its modules afresh. New dispatches go to the new one as soon as it serves; the old connection is
   * given back, still open, so that the executions already bound to it finish on the code they started with, and
   * the caller closes it after them. When the new generation does not start, the old one stays in place and the
   * error is thrown.
   */
  async replace(name: string, generation: number): Promise<RuntimeConnection | undefined> {
    this.assertOpen();
    const old = this.connections.get(name);
    if (name === (this.options.inProcessName ?? "builtin")) {
      const fresh = await createProjectInProcess(this.options, generation);
      this.addConnection(fresh);
      return old;
    }
    const spec = this.options.project.runtimes[name];
    if (spec === undefined) return undefined;
    if (spec.kind === "wasm") {
      // A wasm runtime runs in the host: its modules are loaded afresh, with a pool of workers of their own. A module
      // that does not load throws here, before anything is replaced.
      const fresh = await startWasmRuntime(name, spec, this.options.project.dir);
      this.wasmStartErrors.delete(name);
      this.addConnection(fresh);
      return old;
    }
    if (old === undefined) return undefined; // never started: it starts with the new code when first needed
    const oldChild = this.children.get(name);
    this.blobDir ??= await createBlobDirectory({ projectDir: this.options.project.dir });
    const fresh = this.createChild(name);
    try {
      await fresh.start();
    } catch (error) {
      // Back to the generation that served, which may still be useful; the new one is dropped.
      if (oldChild !== undefined) this.children.set(name, oldChild);
      this.connections.set(name, old);
      await fresh.close().catch(() => {});
      throw error;
    }
    return old;
  }

  private assertOpen(): void {
    if (this.closed) throw new ConductorError("closed", "the runtimes of this conductor are closed");
  }

  /** A wasm runtime runs inside the host: loading its modules is its start (docs/webassembly.md). */
  private async startWasm(name: string, spec: WasmRuntimeSpec): Promise<void> {
    try {
      this.addConnection(await startWasmRuntime(name, spec, this.options.project.dir));
    } catch (error) {
      this.wasmStartErrors.set(name, error as Error);
    }
  }

  private settingsFor(name: string) {
    let warned = false;
    return {
      blobDir: this.blobDir!.path,
      inlineLimit: this.options.inlineLimit ?? DEFAULT_INLINE_LIMIT,
      maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
      startTimeoutMs: this.options.startTimeoutMs ?? 20_000,
      onStderrLine: (line: string) => this.options.onRuntimeStderr?.(name, line),
      onStdoutLine: (line: string) => {
        if (!warned) {
          warned = true;
          this.options.onNotice?.(
            `runtime "${name}" wrote to stdout after its handshake line: ${JSON.stringify(line)}; stdout is reserved for the handshake line, so its output is passed on marked as stdout; make the runtime log to stderr`,
          );
        }
        this.options.onRuntimeStdout?.(name, line);
      },
    };
  }
}

function parseReattach(text: string | undefined): Record<string, { address: string; token: string }> {
  if (text === undefined || text === "") return {};
  try {
    return JSON.parse(text) as Record<string, { address: string; token: string }>;
  } catch (error) {
    throw new ConductorError(
      "runtime_start_failed",
      `${ENV.reattach} is not valid JSON (${(error as Error).message}); expected {"<runtime>": {"address": "/path.sock", "token": "..."}}`,
    );
  }
}

/**
 * The in-process runtime: the given nodes and the project's node modules (`nodes:` of the project file), loaded
 * afresh as `generation` when given (see loadNodeModules' `reload`).
 */
async function createProjectInProcess(
  options: RuntimeRegistryOptions,
  generation?: number,
): Promise<RuntimeConnection> {
  let projectNodes: NodeDefinition[] = [];
  try {
    if (options.project.nodes.length > 0)
      projectNodes = await loadNodeModules(
        options.project.nodes,
        options.project.dir,
        generation === undefined ? {} : { reload: generation },
      );
  } catch (error) {
    // A project's own module that does not load is the project's problem, not the host's.
    throw new ConductorError(
      "project_invalid",
      `${(error as Error).message}; fix the module, or remove it from "nodes" in the project file`,
      { cause: error },
    );
  }
  return createInProcessRuntime({
    name: options.inProcessName ?? "builtin",
    nodes: dedupe([...options.nodes, ...projectNodes]),
  });
}

function dedupe(nodes: NodeDefinition[]): NodeDefinition[] {
  const byType = new Map<string, NodeDefinition>();
  for (const node of nodes) byType.set(node.type, node);
  return [...byType.values()];
}
