import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadNodeModules, type NodeDefinition } from "@conductor/sdk";
import { DEFAULT_INLINE_LIMIT, DEFAULT_MAX_MESSAGE_BYTES, ENV, type NodeType } from "@conductor/sdk/protocol";
import type { ConfigDiagnostic, NodeTypeCatalog } from "../blueprint/validate-blueprint.js";
import { ConductorError } from "../errors.js";
import type { Project } from "../project/project-config.js";
import { startChildRuntime } from "./child-runtime.js";
import { createInProcessRuntime } from "./in-process-runtime.js";
import { prepareLaunch } from "./launchers/prepare-launch.js";
import type { RuntimeConnection } from "./runtime-connection.js";

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
  /** Receives notices (restarts, set-up progress, stdout noise) for the log. */
  onNotice?: (message: string) => void;
  /** Receives each stderr line of each runtime. */
  onRuntimeStderr?: (runtime: string, line: string) => void;
}

/**
 * All runtimes of a project and the node types each serves. The in-process runtime is always there; runtimes in
 * child processes start on first need (a blueprint using a type no running runtime serves, `conductor nodes`, or
 * the server), so a blueprint of built-in nodes never pays for starting Python.
 */
export class RuntimeRegistry implements NodeTypeCatalog {
  private readonly connections = new Map<string, RuntimeConnection>();
  private externalStart: Promise<void> | undefined;
  private blobDir: string | undefined;
  private closed = false;

  private constructor(
    private readonly options: RuntimeRegistryOptions,
    inProcess: RuntimeConnection,
  ) {
    this.connections.set(inProcess.name, inProcess);
  }

  static async create(options: RuntimeRegistryOptions): Promise<RuntimeRegistry> {
    let projectNodes: NodeDefinition[] = [];
    try {
      if (options.project.nodes.length > 0)
        projectNodes = await loadNodeModules(options.project.nodes, options.project.dir);
    } catch (error) {
      // A project's own module that does not load is the project's problem, not the host's.
      throw new ConductorError(
        "project_invalid",
        `${(error as Error).message}; fix the module, or remove it from "nodes" in the project file`,
        { cause: error },
      );
    }
    const inProcess = createInProcessRuntime({
      name: options.inProcessName ?? "builtin",
      nodes: dedupe([...options.nodes, ...projectNodes]),
    });
    return new RuntimeRegistry(options, inProcess);
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
    this.connections.set(connection.name, connection);
  }

  /** Whether every external runtime of the project has been started. */
  get allStarted(): boolean {
    return Object.keys(this.options.project.runtimes).every((name) => this.connections.has(name));
  }

  /**
   * Starts the project's child-process runtimes (once; concurrent callers share the start). A runtime that fails
   * to start fails this call with its error; runtimes that started stay up.
   */
  startExternal(): Promise<void> {
    this.externalStart ??= this.doStartExternal();
    return this.externalStart;
  }

  /** Starts external runtimes if a blueprint needs a type or runtime the running ones do not have. */
  async ensureFor(types: Iterable<string>, runtimeNames: Iterable<string>): Promise<void> {
    if (this.allStarted) return;
    const missingType = [...types].some((type) => this.runtimesFor(type).length === 0);
    const missingRuntime = [...runtimeNames].some((name) => !this.connections.has(name));
    if (missingType || missingRuntime) await this.startExternal();
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
    if (this.blobDir !== undefined) await rm(this.blobDir, { recursive: true, force: true });
  }

  private async doStartExternal(): Promise<void> {
    const { project } = this.options;
    const names = Object.keys(project.runtimes);
    if (names.length === 0) return;
    this.blobDir ??= await mkdtemp(join(tmpdir(), "conductor-blobs-"));
    const reattach = parseReattach(process.env[ENV.reattach]);
    const failures: Error[] = [];
    await Promise.all(
      names.map(async (name) => {
        try {
          const settings = {
            blobDir: this.blobDir!,
            inlineLimit: this.options.inlineLimit ?? DEFAULT_INLINE_LIMIT,
            maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
            startTimeoutMs: this.options.startTimeoutMs ?? 20_000,
            onStderrLine: (line: string) => this.options.onRuntimeStderr?.(name, line),
          };
          const attach = reattach[name];
          const connection = await startChildRuntime({
            name,
            ...(attach === undefined
              ? {
                  launch: await prepareLaunch(name, project.runtimes[name]!, project, {
                    onProgress: (message) => this.options.onNotice?.(message),
                  }),
                }
              : { attach }),
            settings,
            ...(this.options.onNotice === undefined ? {} : { onNotice: this.options.onNotice }),
          });
          if (this.closed) await connection.close();
          else this.connections.set(name, connection);
        } catch (error) {
          failures.push(error as Error);
        }
      }),
    );
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) {
      const first = failures[0]!;
      throw new ConductorError(
        first instanceof ConductorError ? first.code : "runtime_start_failed",
        failures.map((failure) => failure.message).join("\n"),
        { cause: first },
      );
    }
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

function dedupe(nodes: NodeDefinition[]): NodeDefinition[] {
  const byType = new Map<string, NodeDefinition>();
  for (const node of nodes) byType.set(node.type, node);
  return [...byType.values()];
}
