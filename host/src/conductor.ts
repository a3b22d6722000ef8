import { createHash, randomUUID } from "node:crypto";
import { stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { NodeDefinition } from "@conductor/sdk";
import { type NodeType, stringifyJson, toLive } from "@conductor/sdk/protocol";
import type { BlueprintGraph } from "./blueprint/blueprint-graph.js";
import type { BlueprintDocument } from "./blueprint/blueprint-schema.js";
import { fromData, type LoadedBlueprint, loadBlueprintFile } from "./blueprint/load-blueprint.js";
import { suggest } from "./blueprint/suggest.js";
import { type NodeTypeCatalog, validateBlueprint, validateOrThrow } from "./blueprint/validate-blueprint.js";
import { type DistributedOptions, remoteRuntimes } from "./distributed/distributed.js";
import { ConductorError, type Diagnostic, formatDiagnostics } from "./errors.js";
import { createCoreNodes } from "./nodes/index.js";
import { type BlueprintEntry, listBlueprints, loadProjectBlueprint } from "./project/blueprint-catalog.js";
import { projectAccess } from "./project/project-access.js";
import { findProject, type Project } from "./project/project-config.js";
import type { SupervisionOptions } from "./runtime/child-runtime.js";
import type { RuntimeConnection, RuntimeHealth } from "./runtime/runtime-connection.js";
import { RuntimeRegistry } from "./runtime/runtime-registry.js";
import {
  describeBlueprints,
  recursionOf,
  SUB_BLUEPRINT_PREFIX,
  SubBlueprintRuntime,
} from "./runtime/sub-blueprint-runtime.js";
import { checkInputs } from "./scheduler/check-inputs.js";
import {
  type Durability,
  Execution,
  type ExecutionResult,
  type ResultCache,
  type ResumeState,
} from "./scheduler/execution.js";
import {
  EventHub,
  type ExecutionEvent,
  type ExecutionLineage,
  type ExecutionListener,
} from "./scheduler/execution-events.js";
import { createExecutionPlan, type ExecutionPlan } from "./scheduler/execution-plan.js";
import { rerunStateOf, resumeStateOf } from "./scheduler/resume-state.js";
import type {
  ExecutionDetail,
  ExecutionFilter,
  ExecutionStore,
  ExecutionSummary,
} from "./store/execution-store.js";
import { createMemoryCache } from "./store/memory-cache.js";
import { createMemoryStore } from "./store/memory-store.js";
import { Journal, type JournalOptions } from "./store/sqlite-journal.js";
import type { ConductorMetrics } from "./telemetry/conductor-metrics.js";
import { bothTraces, type ExecutionTrace, type Tracing } from "./telemetry/execution-trace.js";
import { tracingFromEnvironment } from "./telemetry/tracing.js";
import type { DeploymentPins } from "./tenancy/deployment-pins.js";
import { hasSecretReference, type ProjectSecrets, projectSecrets, withSecrets } from "./tenancy/secrets.js";
import { openTenancyStoreSync } from "./tenancy/tenancy-store.js";

/** Options of {@link createConductor}. */
export interface ConductorOptions {
  /** The project directory (where conductor.yaml is, or is searched upwards from). Default: the current directory. */
  projectDir?: string;
  /** A project given in code instead of a conductor.yaml. */
  project?: Project;
  /** TypeScript nodes to run in this process, besides the built-in library and the project's node modules. */
  nodes?: readonly NodeDefinition[];
  /** Whether the built-in node library (core.*) is available. Default true. */
  builtinNodes?: boolean;
  /** Most invocations one execution runs at once. Default 64. */
  maxConcurrency?: number;
  /** Values above this many bytes travel between processes as blobs. Default 1 MiB. */
  inlineLimit?: number;
  /** How long a runtime may take to print its handshake line and answer the Handshake. Default 20 s. */
  startTimeoutMs?: number;
  /** Receives the host's notices (runtime restarts, set-up progress). Default: nothing. */
  onNotice?: (message: string) => void;
  /** Receives every stderr line of every runtime. */
  onRuntimeStderr?: (runtime: string, line: string) => void;
  /**
   * Receives every line a runtime writes to stdout after its handshake line (stdout is reserved for that line; the
   * first such line of each runtime is also a notice).
   */
  onRuntimeStdout?: (runtime: string, line: string) => void;
  /** How runtimes are watched and restarted: crash-loop breaker and cool-down, cancel grace, liveness pings. */
  supervision?: SupervisionOptions;
  /**
   * Where executions are recorded, for `executions.list/get/subscribe`. Default: in memory (the last 1000).
   * `false` records nothing, which is what the benchmarks of the bare engine use.
   */
  store?: ExecutionStore | false;
  /**
   * The durable journal (a SQLite file, e.g. `.conductor/journal.db` in the project): executions are recorded
   * as they happen, can be resumed after a crash and re-run from a node, and deterministic nodes marked
   * `cache: true` keep their results across runs. Replaces `store` and `cache`. Default: no journal.
   */
  journal?: string | JournalOptions;
  /** Where deterministic nodes marked `cache: true` keep their results. Default: in memory. */
  cache?: ResultCache | false;
  /**
   * OpenTelemetry traces of executions (docs/telemetry.md). Default: on when the standard OTEL_* environment names
   * an OTLP endpoint (the SDK is then loaded), else off; `false` keeps it off. A tracing given here may be shared
   * by several conductors: `close()` flushes it and leaves it running (shut it down yourself).
   */
  tracing?: Tracing | false;
  /** Prometheus metrics to keep (see `createConductorMetrics`); `conductor serve` exposes them on /metrics. */
  metrics?: ConductorMetrics;
  /**
   * Distributed execution: the nodes of `remoteRuntimes` run on workers (`conductor worker`) reached through
   * Redis, instead of child processes of this host (docs/distributed.md). Default: everything runs here.
   */
  distributed?: DistributedOptions;
  /**
   * What else watches every execution, each given one listener per execution: e.g. the JSON log
   * (`createJsonLog`, docs/telemetry.md).
   */
  observers?: readonly ExecutionObserver[];
  /**
   * What resuming an execution started from a deployed version does when the code of its nodes changed since that
   * version was deployed (docs/security.md, "What a version pins"): `refuse` (default) fails with `code_changed`,
   * naming the runtimes; `warn` tells `onNotice` and resumes.
   */
  codeChange?: "refuse" | "warn";
}

/** Watches executions: gives a listener for each execution of a blueprint (see `ConductorOptions.observers`). */
export interface ExecutionObserver {
  observe(graph: BlueprintGraph): ExecutionListener;
}

/** What can be run: a blueprint file path, a blueprint document, or a loaded blueprint. */
export type BlueprintSource = string | BlueprintDocument | LoadedBlueprint;

/** Options of one run. */
export interface RunOptions {
  /** Receives every event of the execution. */
  onEvent?: ExecutionListener;
  /** Cancels the execution when aborted. */
  signal?: AbortSignal;
  /** Use this id instead of a generated one. */
  executionId?: string;
  /** Run every node, ignoring (but still filling) the result cache. */
  noCache?: boolean;
  /** W3C traceparent of the request that starts the execution (API, webhook): its span becomes the parent. */
  traceparent?: string;
  /** Whether the execution was started by an API or webhook request (its span is then of kind SERVER). */
  trigger?: "api";
}

/** Options of {@link Conductor.rerun}. */
export interface RerunOptions extends RunOptions {
  /**
   * Runs this blueprint (the same one, edited) instead of the one the execution recorded: recorded results are
   * reused by node id for every node that is not re-run.
   */
  blueprint?: BlueprintSource;
}

/** A running execution. */
export interface ExecutionHandle {
  readonly executionId: string;
  readonly result: Promise<ExecutionResult>;
  /** Adds a listener; returns a function that removes it. */
  subscribe(listener: ExecutionListener): () => void;
  cancel(reason?: string): void;
}

/** A blueprint validated and bound to runtimes, ready to run many times. */
export interface PreparedBlueprint {
  readonly graph: BlueprintGraph;
  run(inputs?: Record<string, unknown>, options?: RunOptions): Promise<ExecutionResult>;
  start(inputs?: Record<string, unknown>, options?: RunOptions): ExecutionHandle;
}

/** How {@link Conductor.prepare} reads a blueprint's sub-blueprint nodes. */
export interface PrepareOptions {
  subBlueprints?: ReadonlyMap<string, BlueprintDocument>;
}

/** A node type and the runtime serving it, as listed by {@link Conductor.nodeTypes}. */
export interface NodeTypeEntry {
  runtime: string;
  language: string;
  nodeType: NodeType;
}

/** Recorded and running executions. */
export interface Executions {
  list(filter?: ExecutionFilter): ExecutionSummary[];
  get(executionId: string): ExecutionDetail | undefined;
  /**
   * Delivers an execution's events after `afterSeq` (what happened so far from the store, then live events until
   * it finishes). Returns a function that stops delivery. Throws `execution_not_found` for an unknown id.
   */
  subscribe(executionId: string, listener: ExecutionListener, options?: { afterSeq?: number }): () => void;
  /** Cancels a running execution; false when it is not running. */
  cancel(executionId: string, reason?: string): boolean;
}

/** The embedded host: load, validate and run blueprints from code. */
export interface Conductor {
  /** Validates and runs a blueprint, resolving with its result (a failed execution resolves too). */
  run(
    blueprint: BlueprintSource,
    inputs?: Record<string, unknown>,
    options?: RunOptions,
  ): Promise<ExecutionResult>;
  /** Validates a blueprint and starts it; resolves as soon as it runs, with a handle on it. */
  start(
    blueprint: BlueprintSource,
    inputs?: Record<string, unknown>,
    options?: RunOptions,
  ): Promise<ExecutionHandle>;
  readonly executions: Executions;
  /** The blueprints of the project (files under its blueprint paths). */
  blueprints(): Promise<BlueprintEntry[]>;
  /** Loads one of the project's blueprints by id. */
  loadBlueprint(id: string): Promise<LoadedBlueprint>;
  /**
   * Validates a blueprint and binds it to runtimes once, for running many times. `subBlueprints`: documents that
   * stand for the project's blueprints of those ids as `blueprint.<id>` node types (the copies a deployed version
   * pinned), whatever the project's files say now.
   */
  prepare(blueprint: BlueprintSource, options?: PrepareOptions): Promise<PreparedBlueprint>;
  /** Checks a blueprint without running it. */
  validate(blueprint: BlueprintSource): Promise<{ valid: boolean; diagnostics: Diagnostic[] }>;
  /**
   * Every node type of every runtime of the project that runs (starts the project's runtimes). A runtime that does
   * not start is left out; {@link runtimeHealth} says which and why.
   */
  nodeTypes(): Promise<NodeTypeEntry[]>;
  /**
   * How each runtime is doing now (ok, starting, restarting, broken with its reason): for health checks and for
   * telling the user which runtime is broken. Does not start anything.
   */
  runtimeHealth(): RuntimeHealth[];
  /**
   * Continues an orphan, an execution the journal shows as running whose process died or stopped renewing its
   * lease: nodes whose completion was recorded keep their results and do not run again. Refused
   * (`execution_running`) while its process lives, naming it, and for a sub-blueprint's execution, which goes on
   * with its parent; `execution_finished` when it already ended. Needs a journal.
   */
  resume(executionId: string, options?: RunOptions): Promise<ExecutionHandle>;
  /** Resumes every orphan (see {@link resume}) but sub-blueprints' executions; gives their handles. */
  resumeUnfinished(options?: RunOptions): Promise<ExecutionHandle[]>;
  /**
   * Runs a recorded execution's blueprint again from `fromNode`, reusing the recorded results of every node that
   * is not downstream of it. Gives the new execution. Needs a journal.
   */
  rerun(
    executionId: string,
    fromNode: string | readonly string[],
    options?: RerunOptions,
  ): Promise<ExecutionHandle>;
  /**
   * Starts new generations of runtimes whose code changed (`conductor dev`): child-process runtimes are launched
   * again, the in-process runtime (`builtin`) loads the project's node modules afresh. Executions started from then
   * on use the new code; the ones running now finish on the code they started with, and the old generations close
   * after them. A runtime whose new generation does not start keeps its old one, and the error is thrown.
   */
  reloadRuntimes(names: readonly string[]): Promise<void>;
  /**
   * Records every execution running in this process as cancelled with `reason`, at once and synchronously, for a
   * process that must exit now (a second Ctrl-C): nothing waits for their nodes, which stop with the process and
   * its runtimes. Without a journal there is nothing to record.
   */
  abandon(reason: string): void;
  /** The project this conductor runs. */
  readonly project: Project;
  /** Stops every runtime. */
  close(): Promise<void>;
}

/**
 * Creates an embedded Conductor host.
 *
 * @example
 * const conductor = await createConductor();
 * const result = await conductor.run("flows/report.yaml", { csv: "data/sales.csv" });
 * console.log(result.status, result.outputs);
 * await conductor.close();
 */
export async function createConductor(options: ConductorOptions = {}): Promise<Conductor> {
  const project = options.project ?? (await findProject(options.projectDir ?? process.cwd()));
  const remote = options.distributed === undefined ? undefined : remoteRuntimes(project, options.distributed);
  // In distributed mode, the blobs an execution passed through the blob store go when it ends.
  const observers =
    remote === undefined ? options.observers : [...(options.observers ?? []), remote.observer];
  const registry = await RuntimeRegistry.create({
    project,
    nodes: [
      // The built-in nodes follow the project's access rules: files under its directories, core.shell as allowed.
      ...(options.builtinNodes === false ? [] : createCoreNodes({ access: projectAccess(project) })),
      ...(options.nodes ?? []),
    ],
    ...(options.inlineLimit === undefined ? {} : { inlineLimit: options.inlineLimit }),
    ...(options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs }),
    ...(options.onNotice === undefined ? {} : { onNotice: options.onNotice }),
    ...(options.onRuntimeStderr === undefined ? {} : { onRuntimeStderr: options.onRuntimeStderr }),
    ...(options.onRuntimeStdout === undefined ? {} : { onRuntimeStdout: options.onRuntimeStdout }),
    ...(options.supervision === undefined ? {} : { supervision: options.supervision }),
    ...(remote === undefined ? {} : { remote }),
  });
  if (remote !== undefined) options.metrics?.watchDistributed(remote.stats);
  if (options.journal !== undefined) {
    const journal = await Journal.open(
      typeof options.journal === "string" ? { path: options.journal } : options.journal,
    );
    return new EmbeddedConductor(
      project,
      registry,
      options.maxConcurrency ?? 64,
      journal,
      journal.cache,
      await tracingOf(options),
      options.metrics,
      observers,
      { codeChange: options.codeChange ?? "refuse", onNotice: options.onNotice },
    );
  }
  const store = options.store === false ? undefined : (options.store ?? createMemoryStore());
  const cache = options.cache === false ? undefined : (options.cache ?? createMemoryCache());
  return new EmbeddedConductor(
    project,
    registry,
    options.maxConcurrency ?? 64,
    store,
    cache,
    await tracingOf(options),
    options.metrics,
    observers,
  );
}

/**
 * The conductor's tracing. One it made from the environment is its own, shut down when it closes; one given in the
 * options may be shared with other conductors, so closing only flushes it (its owner shuts it down).
 */
function tracingOf(options: ConductorOptions): Promise<Tracing | undefined> {
  const given = options.tracing;
  if (given === false) return Promise.resolve(undefined);
  if (given === undefined) return tracingFromEnvironment();
  return Promise.resolve({
    startExecution: (start) => given.startExecution(start),
    flush: () => given.flush(),
    shutdown: () => given.flush(),
  });
}

class EmbeddedConductor implements Conductor {
  private readonly prepared = new Map<string, { mtimeMs: number; prepared: BoundBlueprint }>();
  private readonly running = new Map<string, { execution: Execution; hub: EventHub }>();
  private closed = false;
  private generation = 0;
  readonly executions: Executions;
  private readonly subBlueprints: SubBlueprintRuntime;
  private secrets: ProjectSecrets | undefined;
  private pins: DeploymentPins | undefined;

  constructor(
    readonly project: Project,
    private readonly registry: RuntimeRegistry,
    private readonly maxConcurrency: number,
    private readonly store: ExecutionStore | undefined,
    private readonly cache: ResultCache | undefined,
    private readonly tracing?: Tracing | undefined,
    private readonly metrics?: ConductorMetrics | undefined,
    private readonly observers: readonly ExecutionObserver[] = [],
    private readonly pinning: {
      codeChange: "refuse" | "warn";
      onNotice?: ((message: string) => void) | undefined;
    } = { codeChange: "refuse" },
  ) {
    if (metrics !== undefined) {
      metrics.watchRuntimes(() => registry.health());
      metrics.watchSteps((visit) => {
        for (const { execution } of this.running.values()) execution.visitSteps(visit);
      });
      if (store instanceof Journal) store.onCommit = (seconds) => metrics.journalCommitted(seconds);
    }
    this.subBlueprints = new SubBlueprintRuntime({
      documents: async () => {
        const documents = new Map<string, BlueprintDocument>();
        for (const entry of await listBlueprints(this.project)) {
          const loaded = await loadProjectBlueprint(this.project, entry.id).catch(() => undefined);
          if (loaded !== undefined) documents.set(entry.id, loaded.document);
        }
        return documents;
      },
      outputSchema: (type, port, runtime) => {
        const served = runtime ?? registry.runtimesFor(type)[0];
        const nodeType = served === undefined ? undefined : registry.nodeType(type, served);
        return nodeType?.outputs.find((output) => output.name === port)?.schema;
      },
      start: async (id, inputs, executionId, parent) => {
        // A sub-blueprint's execution cut off with its parent's host goes on with its parent, as itself: it is
        // resumed through its parent, never on its own (see Journal.orphans).
        const unfinished =
          this.store instanceof Journal
            ? this.store.unfinishedChild(parent.executionId, parent.nodeId)
            : undefined;
        if (unfinished !== undefined && !this.running.has(unfinished)) {
          const handle = await this.resumeExecution(unfinished, {}, true);
          return { result: handle.result, cancel: (reason) => handle.cancel(reason) };
        }
        // A deployed version runs the sub-blueprints it pinned when deployed, not the project's files of now.
        const root = this.rootOf(parent.executionId);
        const pinned = (await this.deploymentPins())?.subBlueprint(root, id);
        let source: string | LoadedBlueprint | undefined = pinned;
        if (source === undefined) {
          const entry = (await listBlueprints(this.project)).find((candidate) => candidate.id === id);
          if (entry === undefined)
            throw new ConductorError("blueprint_unreadable", `the project has no blueprint "${id}"`);
          source = resolve(this.project.dir, entry.path);
        }
        // A pinned child's own sub-blueprint nodes are checked against the version's other pinned copies.
        const pins = pinned === undefined ? undefined : (await this.deploymentPins())?.subBlueprints(root);
        const prepared = await this.prepare(source, pins === undefined ? {} : { subBlueprints: pins });
        const handle = prepared.startWith(inputs, { executionId }, undefined, {
          parentId: parent.executionId,
          parentNode: parent.nodeId,
        });
        return { result: handle.result, cancel: (reason) => handle.cancel(reason) };
      },
    });
    registry.addConnection(this.subBlueprints);
    if (store instanceof Journal) {
      // Another process took an execution over (this one stopped renewing its lease, frozen say): stop running it
      // here, so that never two processes run one execution; the journal no longer records its events from here.
      store.onLost((executionId) =>
        this.running
          .get(executionId)
          ?.execution.cancel(
            `another process took execution "${executionId}" over after this process's lease on it expired`,
          ),
      );
    }
    this.executions = {
      list: (filter) => this.store?.list(filter) ?? [],
      get: (executionId) => this.store?.get(executionId),
      subscribe: (executionId, listener, options = {}) =>
        this.subscribe(executionId, listener, options.afterSeq ?? 0),
      cancel: (executionId, reason) => {
        const running = this.running.get(executionId);
        if (running === undefined) return false;
        running.execution.cancel(reason);
        return true;
      },
    };
  }

  async start(
    blueprint: BlueprintSource,
    inputs: Record<string, unknown> = {},
    options: RunOptions = {},
  ): Promise<ExecutionHandle> {
    const prepared = await this.prepare(blueprint);
    return prepared.start(inputs, options);
  }

  blueprints(): Promise<BlueprintEntry[]> {
    return listBlueprints(this.project);
  }

  resume(executionId: string, options: RunOptions = {}): Promise<ExecutionHandle> {
    return this.resumeExecution(executionId, options, false);
  }

  /** Resumes an execution; a sub-blueprint's only `throughParent`, when its parent's node runs again. */
  private async resumeExecution(
    executionId: string,
    options: RunOptions,
    throughParent: boolean,
  ): Promise<ExecutionHandle> {
    const { recorded, prepared } = await this.recorded(executionId);
    if (recorded.parent !== undefined && !throughParent && recorded.status === "running") {
      throw new ConductorError(
        "execution_running",
        `execution "${executionId}" belongs to node "${recorded.parent.nodeId}" of execution "${recorded.parent.executionId}", and goes on only with it; resume that one instead`,
      );
    }
    if (recorded.status !== "running") {
      throw new ConductorError(
        "execution_finished",
        `execution "${executionId}" already ${recorded.status}; nothing to resume (use \`conductor rerun\` to run it again)`,
      );
    }
    if (this.running.has(executionId)) {
      throw new ConductorError(
        "execution_running",
        `execution "${executionId}" is running in this process already; nothing to resume`,
      );
    }
    if (!throughParent) await this.checkCode(executionId);
    const resume = resumeStateOf(prepared.graph, recorded.events);
    // Taken over only now, once its blueprint validated: a lease is never held for an execution that cannot run.
    (this.store as Journal).claim(executionId);
    // A resumed execution starts a new trace, linked to the trace of its earlier run (docs/telemetry.md).
    const earlier = recorded.events.find((event) => event.type === "execution.started");
    const traceLink = earlier?.type === "execution.started" ? earlier.traceparent : undefined;
    return prepared.startWith(recorded.inputs, { ...options, executionId }, resume, undefined, traceLink);
  }

  async resumeUnfinished(options: RunOptions = {}): Promise<ExecutionHandle[]> {
    if (!(this.store instanceof Journal)) return [];
    const handles: ExecutionHandle[] = [];
    for (const executionId of this.store.orphans()) {
      if (!this.running.has(executionId)) handles.push(await this.resume(executionId, options));
    }
    return handles;
  }

  async rerun(
    executionId: string,
    fromNode: string | readonly string[],
    options: RerunOptions = {},
  ): Promise<ExecutionHandle> {
    const recordedRun = await this.recorded(executionId);
    const { recorded } = recordedRun;
    const prepared =
      options.blueprint === undefined ? recordedRun.prepared : await this.prepare(options.blueprint);
    const fromNodes = typeof fromNode === "string" ? [fromNode] : [...fromNode];
    for (const node of fromNodes) {
      if (prepared.graph.byId.has(node)) continue;
      const hint = suggest(node, prepared.graph.byId.keys());
      throw new ConductorError(
        "node_not_found",
        `blueprint "${prepared.graph.id}" of execution "${executionId}" has no node "${node}"${hint === undefined ? "" : `; ${hint}`}`,
      );
    }
    if (fromNodes.length === 0) {
      throw new ConductorError(
        "node_not_found",
        `re-running execution "${executionId}" needs a node to run from`,
      );
    }
    // Inputs are checked again, as for any new execution: large ones, recorded as blobs, are read back first.
    const inputs = Object.fromEntries(
      Object.entries(recorded.inputs).map(([name, value]) => [name, toLive(value)]),
    );
    // The lineage names the first of them in the order the graph runs.
    const position = (node: string) => prepared.graph.order.indexOf(prepared.graph.byId.get(node)!.index);
    const firstNode = fromNodes.reduce((a, b) => (position(b) < position(a) ? b : a));
    // A re-run of a deployed version's execution runs that version again, its pinned sub-blueprints included.
    const pins = options.blueprint === undefined ? await this.deploymentPins() : undefined;
    const handle = prepared.startWith(
      inputs,
      options,
      rerunStateOf(prepared.graph, recorded.events, fromNodes),
      { rerunOf: executionId, rerunFrom: firstNode },
    );
    pins?.inherit(handle.executionId, executionId);
    return handle;
  }

  async reloadRuntimes(names: readonly string[]): Promise<void> {
    this.assertOpen();
    const running = [...this.running.values()].map(({ execution }) => execution.result);
    const old: RuntimeConnection[] = [];
    try {
      for (const name of names) {
        this.generation += 1;
        const replaced = await this.registry.replace(name, this.generation);
        if (replaced !== undefined) old.push(replaced);
      }
    } finally {
      // Blueprints bind to connections when prepared: bound again on their next run, to the new generations.
      this.prepared.clear();
      // The executions running now keep the connections they were bound to until they end.
      void Promise.allSettled(running).then(() =>
        Promise.all(old.map((connection) => connection.close().catch(() => {}))),
      );
    }
  }

  /** A journaled execution and its blueprint, validated again against the runtimes of now. */
  private async recorded(executionId: string) {
    if (!(this.store instanceof Journal)) {
      throw new ConductorError(
        "journal_required",
        "resuming and re-running need a journal; create the conductor with the journal option",
      );
    }
    const recorded = this.store.recorded(executionId);
    if (recorded === undefined) {
      throw new ConductorError("execution_not_found", `the journal has no execution "${executionId}"`);
    }
    const loaded = fromData(recorded.blueprint.document, recorded.blueprint.source);
    const prepared = this.bind(await this.validated(loaded));
    return { recorded, prepared };
  }

  /**
   * The deployment pins of the project (tenancy/deployment-pins.ts), opened on first use once something was
   * deployed. Loaded only then: a project that never deploys never loads them.
   */
  private async deploymentPins(): Promise<DeploymentPins | undefined> {
    if (this.pins !== undefined) return this.pins;
    const { openDeploymentPins } = await import("./tenancy/deployment-pins.js");
    this.pins ??= openDeploymentPins(this.project);
    return this.pins;
  }

  /** The execution at the top of `executionId`'s sub-blueprint lineage (itself when it has no parent). */
  private rootOf(executionId: string): string {
    // A sub-blueprint's execution is `<parent>/<node>`: an id without a slash has no parent, so no lookup is needed.
    if (!executionId.includes("/")) return executionId;
    let current = executionId;
    for (let depth = 0; depth < 1_000; depth++) {
      const parent = this.store?.get(current)?.lineage?.parentId;
      if (parent === undefined) return current;
      current = parent;
    }
    return current;
  }

  /**
   * Before an execution started from a deployed version is resumed: its nodes' code must still be the code the
   * version was deployed with, or the rest of it would run other code than its start did.
   */
  private async checkCode(executionId: string): Promise<void> {
    const change = await (await this.deploymentPins())?.codeChanges(executionId);
    if (change === undefined || change.runtimes.length === 0) return;
    const { deployment, runtimes } = change;
    const what = `execution "${executionId}" runs version ${deployment.version} of blueprint "${deployment.blueprintId}" (namespace "${deployment.namespace}"), and the code of runtime${runtimes.length === 1 ? "" : "s"} ${runtimes.map((name) => `"${name}"`).join(", ")} changed since that version was deployed`;
    if (this.pinning.codeChange === "warn") {
      this.pinning.onNotice?.(`${what}; resuming it with the code there is now`);
      return;
    }
    throw new ConductorError(
      "code_changed",
      `${what}; its remaining nodes would run other code than its first ones. Restore that code, or resume it with the code of now (conductor resume ${executionId} --allow-code-change)`,
    );
  }

  loadBlueprint(id: string): Promise<LoadedBlueprint> {
    return loadProjectBlueprint(this.project, id);
  }

  private subscribe(executionId: string, listener: ExecutionListener, afterSeq: number): () => void {
    const running = this.running.get(executionId);
    const recorded = this.store?.events(executionId, afterSeq) ?? [];
    const status = running === undefined ? this.store?.get(executionId)?.status : "running";
    if (status === undefined) {
      throw new ConductorError("execution_not_found", `no execution "${executionId}" is running or recorded`);
    }
    // Replay and subscription happen in one synchronous step, so no event falls between them.
    let lastSeq = afterSeq;
    const deliver = (event: ExecutionEvent) => {
      if (event.seq <= lastSeq) return;
      lastSeq = event.seq;
      listener(event);
    };
    for (const event of recorded) deliver(event);
    if (running !== undefined) return running.hub.subscribe(deliver);
    // Recorded as running but not running here: another process runs it on the same journal (or it was cut off
    // and waits to be resumed). Its events arrive as that process records them.
    const store = this.store;
    if (!(store instanceof Journal) || status !== "running") return () => {};
    let finished = false;
    const stop = store.changes.onChange(() => {
      if (finished) return;
      for (const event of store.events(executionId, lastSeq)) {
        deliver(event);
        if (event.type === "execution.finished") finished = true;
      }
      if (finished) stop();
    });
    return stop;
  }

  async run(
    blueprint: BlueprintSource,
    inputs: Record<string, unknown> = {},
    options: RunOptions = {},
  ): Promise<ExecutionResult> {
    const prepared = await this.prepare(blueprint);
    return prepared.run(inputs, options);
  }

  async prepare(blueprint: BlueprintSource, options: PrepareOptions = {}): Promise<BoundBlueprint> {
    this.assertOpen();
    if (options.subBlueprints !== undefined && options.subBlueprints.size > 0) {
      const loaded =
        typeof blueprint === "string" ? await loadBlueprintFile(resolve(blueprint)) : this.load(blueprint);
      return this.bind(await this.validated(loaded, options.subBlueprints));
    }
    if (typeof blueprint === "string") {
      const path = resolve(blueprint);
      const mtimeMs = (await stat(path).catch(() => undefined))?.mtimeMs ?? -1;
      const cached = this.prepared.get(path);
      if (cached !== undefined && cached.mtimeMs === mtimeMs) return cached.prepared;
      const prepared = this.bind(await this.validated(await loadBlueprintFile(path)));
      this.prepared.set(path, { mtimeMs, prepared });
      return prepared;
    }
    return this.bind(await this.validated(this.load(blueprint)));
  }

  async validate(blueprint: BlueprintSource): Promise<{ valid: boolean; diagnostics: Diagnostic[] }> {
    let loaded: LoadedBlueprint;
    try {
      loaded = typeof blueprint === "string" ? await loadBlueprintFile(blueprint) : this.load(blueprint);
    } catch (error) {
      if (error instanceof ConductorError) {
        return {
          valid: false,
          diagnostics:
            error.diagnostics.length > 0 ? error.diagnostics : [{ path: "", message: error.message }],
        };
      }
      throw error;
    }
    const startError = await this.ensureRuntimes(loaded);
    const result = await validateBlueprint(loaded, this.registry);
    const diagnostics = [
      ...this.recursionDiagnostics(loaded),
      ...withoutUnknownTypes(result.diagnostics, startError),
    ];
    if (startError !== undefined) {
      // A Python package a node imports but nobody installed is the usual cause: say where it goes.
      const missing = /ModuleNotFoundError: No module named '([^'.]+)/.exec(startError.message)?.[1];
      diagnostics.unshift({
        path: "",
        message: `some runtimes did not start: ${startError.message}`,
        ...(missing === undefined
          ? {}
          : {
              suggestion: `if "${missing}" is a package, add it to the runtime's requirements in conductor.yaml (e.g. requirements: ["${missing}"]); it is installed into the runtime's venv on the next start`,
            }),
      });
    }
    return { valid: diagnostics.length === 0, diagnostics };
  }

  async nodeTypes(): Promise<NodeTypeEntry[]> {
    this.assertOpen();
    await this.registry.startExternal();
    await this.subBlueprints.refresh();
    const entries: NodeTypeEntry[] = [];
    for (const [runtime, connection] of this.registry.runtimes) {
      for (const nodeType of connection.nodeTypes) {
        entries.push({ runtime, language: connection.description.language, nodeType });
      }
    }
    return entries;
  }

  abandon(reason: string): void {
    if (!(this.store instanceof Journal)) return;
    for (const executionId of this.running.keys()) this.store.abandon(executionId, reason);
  }

  runtimeHealth(): RuntimeHealth[] {
    return this.registry.health();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const { execution } of this.running.values()) execution.cancel("the host is shutting down");
    await Promise.race([
      Promise.all([...this.running.values()].map(({ execution }) => execution.result)),
      new Promise((resolve) => setTimeout(resolve, 5_000).unref()),
    ]);
    await this.registry.close();
    await this.store?.close();
    await this.tracing?.shutdown();
    this.secrets?.close();
    this.pins?.close();
  }

  private load(blueprint: BlueprintDocument | LoadedBlueprint): LoadedBlueprint {
    return "document" in blueprint && "source" in blueprint ? blueprint : fromData(blueprint);
  }

  /** Starts the runtimes a blueprint needs; gives the start error, if any, instead of throwing it. */
  private async ensureRuntimes(loaded: LoadedBlueprint): Promise<Error | undefined> {
    const nodes = Object.values(loaded.document.nodes);
    const types = nodes.map((node) => node.type);
    const runtimes = nodes.flatMap((node) => (node.runtime === undefined ? [] : [node.runtime]));
    const children = types
      .filter((type) => type.startsWith(SUB_BLUEPRINT_PREFIX))
      .map((type) => type.slice(SUB_BLUEPRINT_PREFIX.length));
    if (children.length > 0) {
      // The runtimes of nodes inside sub-blueprints start too: the sub-blueprints' output types come from them.
      await this.subBlueprints.refresh();
      const inner = this.subBlueprints.usedBy(children);
      types.push(...inner.types);
      runtimes.push(...inner.runtimes);
    }
    try {
      await this.registry.ensureFor(types, runtimes);
      return undefined;
    } catch (error) {
      return error as Error;
    } finally {
      if (children.length > 0) this.subBlueprints.describeAll();
    }
  }

  /** A blueprint that reaches itself through sub-blueprints cannot run: one diagnostic per node that leads there. */
  private recursionDiagnostics(loaded: LoadedBlueprint): Diagnostic[] {
    const diagnostics: Diagnostic[] = [];
    const own = (id: string) =>
      id === loaded.id
        ? Object.values(loaded.document.nodes)
            .map((node) => node.type)
            .filter((type) => type.startsWith(SUB_BLUEPRINT_PREFIX))
            .map((type) => type.slice(SUB_BLUEPRINT_PREFIX.length))
        : this.subBlueprints.uses(id);
    for (const [nodeId, node] of Object.entries(loaded.document.nodes)) {
      if (!node.type.startsWith(SUB_BLUEPRINT_PREFIX)) continue;
      const child = node.type.slice(SUB_BLUEPRINT_PREFIX.length);
      const cycle =
        child === loaded.id ? [loaded.id, child] : (recursionOf(loaded.id, own) ?? recursionOf(child, own));
      if (cycle !== undefined && (cycle.includes(child) || child === loaded.id)) {
        diagnostics.push({
          path: `nodes.${nodeId}.type`,
          message: `blueprint "${loaded.id}" would run itself: ${cycle.join(" → ")}; a blueprint cannot use itself, directly or through others`,
        });
      }
    }
    return diagnostics;
  }

  private async validated(
    loaded: LoadedBlueprint,
    subBlueprints?: ReadonlyMap<string, BlueprintDocument>,
  ): Promise<BlueprintGraph> {
    const startError = await this.ensureRuntimes(loaded);
    const recursion = this.recursionDiagnostics(loaded);
    if (recursion.length > 0) {
      throw new ConductorError(
        "blueprint_invalid",
        `blueprint ${loaded.source} is invalid (${recursion.length} problem${recursion.length === 1 ? "" : "s"}):\n${formatDiagnostics(recursion)}`,
        { diagnostics: recursion },
      );
    }
    try {
      const catalog = subBlueprints === undefined ? this.registry : this.withSubBlueprints(subBlueprints);
      return await validateOrThrow(loaded, catalog);
    } catch (error) {
      if (startError === undefined || !(error instanceof ConductorError)) throw error;
      // ensureRuntimes gives a start error only when a type is unknown: the node types of a runtime that never
      // started are, so its start error is the cause and "unknown node type" would mislead. Other problems stay.
      const others = withoutUnknownTypes(error.diagnostics, startError);
      const code = startError instanceof ConductorError ? startError.code : "runtime_start_failed";
      if (others.length === 0) throw new ConductorError(code, startError.message, { cause: startError });
      throw new ConductorError(
        code,
        `${startError.message}\nblueprint ${loaded.source} has other problems too:\n${formatDiagnostics(others)}`,
        { cause: startError, diagnostics: others },
      );
    }
  }

  /**
   * The registry's node types, with `blueprint.<id>` read from `documents` (a deployed version's pinned copies)
   * instead of the project's files of now.
   */
  private withSubBlueprints(documents: ReadonlyMap<string, BlueprintDocument>): NodeTypeCatalog {
    const registry = this.registry;
    const pinned = describeBlueprints(documents, (type, port, runtime) => {
      const served = runtime ?? registry.runtimesFor(type)[0];
      const nodeType = served === undefined ? undefined : registry.nodeType(type, served);
      return nodeType?.outputs.find((output) => output.name === port)?.schema;
    });
    const runtime = this.subBlueprints.name;
    return {
      runtimesFor: (type) => (pinned.has(type) ? [runtime] : registry.runtimesFor(type)),
      nodeType: (type, served) =>
        pinned.has(type) && served === runtime ? pinned.get(type) : registry.nodeType(type, served),
      knownTypes: () => new Set([...registry.knownTypes(), ...pinned.keys()]),
      runtimeNames: () => registry.runtimeNames(),
      validateConfig: (served, type, config) => registry.validateConfig(served, type, config),
      features: (served) => registry.features(served),
      takesLiveValues: (served) => registry.takesLiveValues(served),
    };
  }

  private bind(graph: BlueprintGraph): BoundBlueprint {
    const plan = createExecutionPlan(graph, this.registry.runtimes, {
      durable: durabilityOf(this.store) !== undefined,
    });
    // Nodes whose config names a secret get its value only as their invocation is sent (tenancy/secrets.ts).
    if (graph.nodes.some((node) => hasSecretReference(node.config))) {
      this.secrets ??= projectSecrets(this.project.dir, openTenancyStoreSync);
      const resolve = this.secrets.resolve;
      plan.runtimes = plan.runtimes.map((connection) => withSecrets(connection, resolve));
    }
    let blueprintKey: string | undefined;
    if (this.store instanceof Journal) {
      blueprintKey = createHash("sha256")
        .update(graph.source)
        .update(stringifyJson(graph.document))
        .digest("hex")
        .slice(0, 32);
      this.store.recordBlueprint(blueprintKey, graph.source, graph.document);
    }
    const start = (inputs: Record<string, unknown> = {}, options: RunOptions = {}) =>
      this.startExecution(plan, inputs, options, blueprintKey);
    return {
      graph,
      start,
      run: (inputs, options) => start(inputs, options).result,
      startWith: (inputs, options, resume, lineage, traceLink) =>
        this.startExecution(plan, inputs, options, blueprintKey, resume, lineage, traceLink),
    };
  }

  private startExecution(
    plan: ExecutionPlan,
    inputs: Record<string, unknown>,
    options: RunOptions,
    blueprintKey: string | undefined,
    resume?: ResumeState,
    lineage?: ExecutionLineage,
    traceLink?: string,
  ): ExecutionHandle {
    this.assertOpen();
    const executionId = options.executionId ?? randomUUID();
    const resuming = resume !== undefined && resume.replay !== true;
    if (this.store instanceof Journal && blueprintKey !== undefined && !resuming) {
      this.store.recordOrigin(executionId, { blueprintKey, projectDir: this.project.dir });
    }
    const hub = new EventHub();
    if (this.store !== undefined) hub.subscribe((event) => this.store!.append(event));
    if (options.onEvent !== undefined) hub.subscribe(options.onEvent);
    for (const observer of this.observers) hub.subscribe(observer.observe(plan.graph));
    const durability = durabilityOf(this.store);
    const execution = new Execution(plan, {
      executionId,
      inputs: resuming ? inputs : checkInputs(plan.graph, inputs),
      maxConcurrency: this.maxConcurrency,
      hub,
      cache: options.noCache === true ? readThroughOnly(this.cache) : this.cache,
      durability,
      resume,
      lineage,
      trace: this.executionTrace(plan.graph, executionId, options, traceLink),
    });
    this.running.set(execution.executionId, { execution, hub });
    // A result is acknowledged only once the journal holds it.
    const result = execution.result.then(async (outcome) => {
      await durability?.flush();
      this.running.delete(execution.executionId);
      return outcome;
    });
    const signal = options.signal;
    if (signal !== undefined) {
      if (signal.aborted) execution.cancel(String(signal.reason ?? "aborted"));
      else
        signal.addEventListener("abort", () => execution.cancel(String(signal.reason ?? "aborted")), {
          once: true,
        });
    }
    execution.start();
    return {
      executionId: execution.executionId,
      result,
      subscribe: (listener) => hub.subscribe(listener),
      cancel: (reason) => execution.cancel(reason),
    };
  }

  /** The execution's hooks: its spans when tracing is on, its metrics when kept, both, or none. */
  private executionTrace(
    graph: BlueprintGraph,
    executionId: string,
    options: RunOptions,
    traceLink: string | undefined,
  ): ExecutionTrace | undefined {
    const spans = this.tracing?.startExecution({
      executionId,
      blueprintId: graph.id,
      nodeCount: graph.nodes.length,
      parent: options.traceparent,
      resumedFrom: traceLink,
      trigger: options.trigger,
    });
    const metered = this.metrics?.execution(graph);
    if (spans === undefined) return metered;
    return metered === undefined ? spans : bothTraces(spans, metered);
  }

  private assertOpen(): void {
    if (this.closed)
      throw new ConductorError("closed", "this conductor is closed; create a new one with createConductor()");
  }
}

/** A prepared blueprint that can also start a resumed execution, a re-run or a sub-blueprint's execution. */
type BoundBlueprint = PreparedBlueprint & {
  startWith(
    inputs: Record<string, unknown>,
    options: RunOptions,
    resume: ResumeState | undefined,
    lineage?: ExecutionLineage,
    traceLink?: string,
  ): ExecutionHandle;
};

/**
 * The diagnostics that do not come from node types being unknown, when a runtime failed to start (see
 * `validated`): "unknown node type" and "runtime … does not serve node type …" are its consequences.
 */
function withoutUnknownTypes(
  diagnostics: readonly Diagnostic[],
  startError: Error | undefined,
): Diagnostic[] {
  if (startError === undefined) return [...diagnostics];
  return diagnostics.filter(
    (diagnostic) =>
      !(diagnostic.path.endsWith(".type") && diagnostic.message.startsWith("unknown node type")) &&
      !(diagnostic.path.endsWith(".runtime") && diagnostic.message.includes(" does not serve node type ")),
  );
}

/** The directory a blueprint path belongs to (for finding its project). */
export function blueprintDir(path: string): string {
  return dirname(resolve(path));
}

/** A cache that is written but never read: `--no-cache` runs every node and refreshes what the cache holds. */
function readThroughOnly(cache: ResultCache | undefined): ResultCache | undefined {
  return cache === undefined
    ? undefined
    : { get: () => undefined, put: (key, type, outputs) => cache.put(key, type, outputs) };
}

/** The store's durability barrier, when it is a journal. */
function durabilityOf(store: ExecutionStore | undefined): Durability | undefined {
  return store !== undefined && "flush" in store && "pending" in store
    ? (store as unknown as Durability)
    : undefined;
}
