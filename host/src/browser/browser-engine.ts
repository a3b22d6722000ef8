import type { NodeDefinition } from "@conductor/sdk";
import type { NodeType } from "@conductor/sdk/protocol";
import type { BlueprintGraph } from "../blueprint/blueprint-graph.js";
import type { BlueprintDocument } from "../blueprint/blueprint-schema.js";
import { fromData, type LoadedBlueprint, parseBlueprint } from "../blueprint/parse-blueprint.js";
import {
  type ConfigDiagnostic,
  type NodeTypeCatalog,
  validateOrThrow,
} from "../blueprint/validate-blueprint.js";
import { ConductorError, type Diagnostic, formatDiagnostics } from "../errors.js";
import { enforceTimeouts } from "../runtime/enforce-timeouts.js";
import { createInProcessRuntime } from "../runtime/in-process-runtime.js";
import type { RuntimeConnection } from "../runtime/runtime-connection.js";
import { recursionOf, SUB_BLUEPRINT_PREFIX, SubBlueprintRuntime } from "../runtime/sub-blueprint-runtime.js";
import { checkInputs } from "../scheduler/check-inputs.js";
import { Execution, type ExecutionResult, type ResumeState } from "../scheduler/execution.js";
import { EventHub, type ExecutionListener } from "../scheduler/execution-events.js";
import { createExecutionPlan, type ExecutionPlan } from "../scheduler/execution-plan.js";
import { resumeStateOf } from "../scheduler/resume-state.js";
import { browserCoreNodes } from "./browser-core-nodes.js";
import { type BrowserJournal, createMemoryJournal } from "./browser-journal.js";

/** Options of {@link createBrowserEngine}. */
export interface BrowserEngineOptions {
  /** TypeScript nodes that run in the page (the in-process runtime "builtin"), besides the built-in ones. */
  nodes?: readonly NodeDefinition[];
  /** Whether the built-in nodes that need no Node.js (core.template, core.json-transform, …) are there. Default true. */
  builtinNodes?: boolean;
  /** Other runtimes, by their own names: the page's wasm runtime (`createBrowserWasmRuntime`). */
  runtimes?: readonly RuntimeConnection[];
  /**
   * Where executions are recorded; default in memory. `createIndexedDbJournal()` makes them resumable; `false`
   * records nothing (no events are built unless `onEvent` asks for them; nothing can be resumed).
   */
  journal?: BrowserJournal | false;
  /** Most invocations one execution runs at once. Default 64. */
  maxConcurrency?: number;
  /**
   * Blueprints other blueprints use as nodes (`type: blueprint.<id>`), as in a host's project. A sub-blueprint runs
   * as a child execution in the page; the journal does not record it apart from its parent, so a reload during it
   * runs the parent's node, the whole child, again.
   */
  blueprints?: readonly BlueprintSource[];
}

/** What {@link BrowserEngine.start} and {@link BrowserEngine.resume} give. */
export interface BrowserExecution {
  executionId: string;
  /** Resolves once the execution finished and the journal holds its end. */
  result: Promise<ExecutionResult>;
  /** Live events (node started, progress, log, completed…), as the host's `executions.subscribe` gives them. */
  subscribe(listener: ExecutionListener): () => void;
  cancel(reason?: string): void;
}

/** Options of {@link BrowserEngine.start}. */
export interface BrowserRunOptions {
  executionId?: string;
  /** Receives every event, from the first. */
  onEvent?: ExecutionListener;
}

/** A blueprint validated and planned once (see {@link BrowserEngine.prepare}). */
export interface PreparedBrowserBlueprint {
  graph: BlueprintGraph;
  start(inputs?: Record<string, unknown>, options?: BrowserRunOptions): BrowserExecution;
  run(inputs?: Record<string, unknown>, options?: BrowserRunOptions): Promise<ExecutionResult>;
}

/** A blueprint given to the engine: YAML or JSON text, or its document. */
export type BlueprintSource = string | BlueprintDocument;

/**
 * The engine in a page or a Web Worker: the host's blueprint format, validation and scheduler, with TypeScript
 * nodes in the page and WebAssembly nodes in Web Workers, and a journal (in memory or IndexedDB). The same
 * blueprint gives the same outputs here as in the Node host; what the Node host adds on top (child-process
 * runtimes, the SQLite journal, the API, the CLI, files, secrets) is not here.
 */
export interface BrowserEngine {
  /** Validates a blueprint against the engine's node types; throws a `ConductorError` listing every problem. */
  validate(blueprint: BlueprintSource): Promise<BlueprintGraph>;
  /** Validates and plans a blueprint once, for many executions. */
  prepare(blueprint: BlueprintSource): Promise<PreparedBrowserBlueprint>;
  start(
    blueprint: BlueprintSource,
    inputs?: Record<string, unknown>,
    options?: BrowserRunOptions,
  ): Promise<BrowserExecution>;
  run(
    blueprint: BlueprintSource,
    inputs?: Record<string, unknown>,
    options?: BrowserRunOptions,
  ): Promise<ExecutionResult>;
  /**
   * Continues an execution the journal records as running (the page was reloaded while it ran): nodes that had
   * finished are not run again, their recorded outputs are used.
   */
  resume(executionId: string, options?: Omit<BrowserRunOptions, "executionId">): Promise<BrowserExecution>;
  /** Resumes every execution the journal records as running. */
  resumeUnfinished(options?: Omit<BrowserRunOptions, "executionId">): Promise<BrowserExecution[]>;
  /** The node types the engine serves, by runtime. */
  nodeTypes(): { runtime: string; nodeType: NodeType }[];
  close(): Promise<void>;
}

/** Creates an engine for a page or a Web Worker (see {@link BrowserEngine}). */
export function createBrowserEngine(options: BrowserEngineOptions = {}): BrowserEngine {
  const connections = new Map<string, RuntimeConnection>();
  const add = (connection: RuntimeConnection) =>
    // As in the host: a step that ignores its timeout is reported timed out after a grace period.
    connections.set(
      connection.name,
      enforceTimeouts(connection, { graceMs: 2_000, restartsUnresponsive: false }),
    );
  add(
    createInProcessRuntime({
      nodes: [...(options.builtinNodes === false ? [] : browserCoreNodes), ...(options.nodes ?? [])],
    }),
  );
  for (const runtime of options.runtimes ?? []) add(runtime);
  const loadedBlueprints = (options.blueprints ?? []).map((blueprint) => load(blueprint));
  const subBlueprints = new SubBlueprintRuntime({
    documents: async () => new Map(loadedBlueprints.map((loaded) => [loaded.id, loaded.document])),
    outputSchema: (type, port, runtime) => {
      const served = runtime ?? catalog.runtimesFor(type)[0];
      const nodeType = served === undefined ? undefined : catalog.nodeType(type, served);
      return nodeType?.outputs.find((output) => output.name === port)?.schema;
    },
    start: async (id, inputs, executionId) => {
      const loaded = loadedBlueprints.find((candidate) => candidate.id === id);
      if (loaded === undefined)
        throw new ConductorError("blueprint_unreadable", `this engine has no blueprint "${id}"`);
      const prepared = await plan(loaded.document);
      const child = launch(prepared, executionId, checkInputs(prepared.graph, inputs), {}, undefined, false);
      return { result: child.result, cancel: (reason) => child.cancel(reason) };
    },
  });
  if (loadedBlueprints.length > 0) add(subBlueprints);
  const catalog = catalogOf(connections);
  // The sub-blueprints' node types are described once, before the first validation waits for them.
  const described = loadedBlueprints.length > 0 ? subBlueprints.refresh() : Promise.resolve();
  const journal = options.journal === false ? undefined : (options.journal ?? createMemoryJournal());
  const maxConcurrency = options.maxConcurrency ?? 64;
  const running = new Map<string, Execution>();
  let closed = false;

  const validate = async (blueprint: BlueprintSource) => {
    await described;
    const loaded = load(blueprint);
    const cycles = recursionDiagnostics(loaded, (id) => subBlueprints.uses(id));
    if (cycles.length > 0)
      throw new ConductorError(
        "blueprint_invalid",
        `blueprint ${loaded.source} is invalid (${cycles.length} problem${cycles.length === 1 ? "" : "s"}):\n${formatDiagnostics(cycles)}`,
        { diagnostics: cycles },
      );
    return validateOrThrow(loaded, catalog);
  };

  const plan = async (blueprint: BlueprintSource): Promise<ExecutionPlan> =>
    createExecutionPlan(await validate(blueprint), connections, { durable: journal !== undefined });

  const launch = (
    prepared: ExecutionPlan,
    executionId: string,
    inputs: Record<string, unknown>,
    options: Omit<BrowserRunOptions, "executionId">,
    resume?: ResumeState,
    record = true,
  ): BrowserExecution => {
    if (closed) throw new ConductorError("closed", "this engine is closed; create a new one");
    if (running.has(executionId))
      throw new ConductorError(
        "execution_running",
        `execution "${executionId}" is running in this page already`,
      );
    const hub = new EventHub();
    const recording = record ? journal : undefined;
    if (recording !== undefined) hub.subscribe((event) => recording.append(event));
    if (options.onEvent !== undefined) hub.subscribe(options.onEvent);
    const execution = new Execution(prepared, {
      executionId,
      inputs,
      maxConcurrency,
      hub,
      durability: recording,
      resume,
    });
    running.set(executionId, execution);
    const result = execution.result.then(async (outcome) => {
      await recording?.flush();
      running.delete(executionId);
      return outcome;
    });
    execution.start();
    return {
      executionId,
      result,
      subscribe: (listener) => hub.subscribe(listener),
      cancel: (reason) => execution.cancel(reason),
    };
  };

  const startPlanned = (
    prepared: ExecutionPlan,
    blueprint: BlueprintSource,
    inputs: Record<string, unknown>,
    runOptions: BrowserRunOptions,
  ): BrowserExecution => {
    const checked = checkInputs(prepared.graph, inputs);
    const executionId = runOptions.executionId ?? globalThis.crypto.randomUUID();
    journal?.begin({ executionId, blueprintId: prepared.graph.id, blueprint, status: "running" });
    return launch(prepared, executionId, checked, runOptions);
  };

  const start = async (
    blueprint: BlueprintSource,
    inputs: Record<string, unknown> = {},
    runOptions: BrowserRunOptions = {},
  ): Promise<BrowserExecution> => startPlanned(await plan(blueprint), blueprint, inputs, runOptions);

  const prepare = async (blueprint: BlueprintSource): Promise<PreparedBrowserBlueprint> => {
    const prepared = await plan(blueprint);
    const startOne = (inputs: Record<string, unknown> = {}, runOptions: BrowserRunOptions = {}) =>
      startPlanned(prepared, blueprint, inputs, runOptions);
    return {
      graph: prepared.graph,
      start: startOne,
      run: (inputs, runOptions) => startOne(inputs, runOptions).result,
    };
  };

  const resume = async (
    executionId: string,
    runOptions: Omit<BrowserRunOptions, "executionId"> = {},
  ): Promise<BrowserExecution> => {
    if (journal === undefined)
      throw new ConductorError(
        "execution_not_found",
        "this engine has no journal (journal: false); nothing to resume",
      );
    const recorded = await journal.execution(executionId);
    if (recorded === undefined)
      throw new ConductorError("execution_not_found", `the journal has no execution "${executionId}"`);
    if (recorded.status !== "running") {
      throw new ConductorError(
        "execution_finished",
        `execution "${executionId}" already ${recorded.status}; nothing to resume`,
      );
    }
    const prepared = await plan(recorded.blueprint as BlueprintSource);
    const events = await journal.events(executionId);
    const started = events.find((event) => event.type === "execution.started");
    const inputs = started?.type === "execution.started" ? started.inputs : {};
    return launch(prepared, executionId, inputs, runOptions, resumeStateOf(prepared.graph, events));
  };

  return {
    validate,
    prepare,
    start,
    run: async (blueprint, inputs, runOptions) => (await start(blueprint, inputs, runOptions)).result,
    resume,
    async resumeUnfinished(runOptions = {}) {
      const unfinished = (await journal?.unfinished()) ?? [];
      return Promise.all(
        unfinished
          .filter((execution) => !running.has(execution.executionId))
          .map((execution) => resume(execution.executionId, runOptions)),
      );
    },
    nodeTypes: () =>
      [...connections.values()].flatMap((connection) =>
        connection.nodeTypes.map((nodeType) => ({ runtime: connection.name, nodeType })),
      ),
    async close() {
      if (closed) return;
      closed = true;
      for (const execution of running.values()) execution.cancel("the engine is closing");
      await Promise.all([...running.values()].map((execution) => execution.result));
      await Promise.all([...connections.values()].map((connection) => connection.close().catch(() => {})));
      await journal?.close();
    },
  };
}

function load(blueprint: BlueprintSource): LoadedBlueprint {
  return typeof blueprint === "string" ? parseBlueprint(blueprint) : fromData(blueprint);
}

/** A blueprint that would run itself through its sub-blueprints, as the host reports it. */
function recursionDiagnostics(loaded: LoadedBlueprint, uses: (id: string) => string[]): Diagnostic[] {
  const children = (node: { type: string }) =>
    node.type.startsWith(SUB_BLUEPRINT_PREFIX) ? [node.type.slice(SUB_BLUEPRINT_PREFIX.length)] : [];
  const own = (id: string) =>
    id === loaded.id ? Object.values(loaded.document.nodes).flatMap(children) : uses(id);
  const diagnostics: Diagnostic[] = [];
  for (const [nodeId, node] of Object.entries(loaded.document.nodes)) {
    for (const child of children(node)) {
      const cycle = child === loaded.id ? [loaded.id, child] : recursionOf(child, own);
      if (cycle === undefined) continue;
      diagnostics.push({
        path: `nodes.${nodeId}.type`,
        message: `blueprint "${loaded.id}" would run itself: ${cycle.join(" → ")}; a blueprint cannot use itself, directly or through others`,
      });
    }
  }
  return diagnostics;
}

/** The validator's view of the engine's runtimes (the host's RuntimeRegistry plays this part there). */
function catalogOf(connections: ReadonlyMap<string, RuntimeConnection>): NodeTypeCatalog {
  return {
    runtimesFor: (type) =>
      [...connections.values()]
        .filter((connection) => connection.findNodeType(type) !== undefined)
        .map((connection) => connection.name),
    nodeType: (type, runtime) => connections.get(runtime)?.findNodeType(type),
    *knownTypes() {
      for (const connection of connections.values())
        for (const nodeType of connection.nodeTypes) yield nodeType.type;
    },
    runtimeNames: () => connections.keys(),
    validateConfig: (runtime, type, config): Promise<ConfigDiagnostic[]> =>
      connections.get(runtime)?.validateConfig(type, config) ?? Promise.resolve([]),
    features: (runtime) => connections.get(runtime)?.description.features,
  };
}
