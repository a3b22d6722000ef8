import { resolve } from "node:path";
import { stringifyJson } from "@conductor/sdk/protocol";
import type { BlueprintDocument } from "../blueprint/blueprint-schema.js";
import { loadBlueprintFile } from "../blueprint/load-blueprint.js";
import type { Conductor } from "../conductor.js";
import { formatDiagnostics } from "../errors.js";
import type { ExecutionResult } from "../scheduler/execution-types.js";
import { changedNodes, documentChanged } from "./blueprint-changes.js";
import { impactOf } from "./change-impact.js";

/** What one batch of changed files led to (see {@link DevSession.apply}). */
export interface DevOutcome {
  /** Runtimes started afresh with the new code. */
  reloaded: string[];
  /** Blueprints validated, by path, with whether they are valid. */
  validated: { path: string; valid: boolean }[];
  /** The re-run of the last execution, when there was one to re-run. */
  rerun?: { of: string; from: string[]; result: ExecutionResult };
  /** Why nothing ran, when nothing did. */
  note?: string;
  /**
   * conductor.yaml changed: the session applied nothing, and the caller opens the project afresh (its runtimes,
   * node modules and server), since every part of the conductor was made from it.
   */
  projectChanged?: boolean;
}

/** Options of {@link createDevSession}. */
export interface DevSessionOptions {
  conductor: Conductor;
  /** Receives one line per thing that happened, for the terminal. */
  log: (line: string) => void;
  /** The in-process runtime's name. Default "builtin". */
  inProcessName?: string;
}

/** The loop of `conductor dev`: what to do when files of the project change. */
export interface DevSession {
  /** Remembers the project's blueprints as they are now, to tell later which nodes an edit touched. */
  init(): Promise<void>;
  /**
   * Applies a batch of changed files: reloads the runtimes whose code changed, validates the blueprints that
   * changed, and re-runs the last execution from the first nodes the change touched, reusing the recorded results
   * of the nodes upstream of them. Never throws: problems are logged and given back in the outcome.
   */
  apply(paths: readonly string[]): Promise<DevOutcome>;
}

/** Creates the loop of `conductor dev` over an open conductor (with a journal: re-runs need one). */
export function createDevSession(options: DevSessionOptions): DevSession {
  const { conductor, log } = options;
  const inProcessName = options.inProcessName ?? "builtin";
  const documents = new Map<string, BlueprintDocument>();

  const blueprintPaths = async () =>
    new Map(
      (await conductor.blueprints()).map((entry) => [resolve(conductor.project.dir, entry.path), entry.id]),
    );

  const remember = async (path: string) => {
    const loaded = await loadBlueprintFile(path).catch(() => undefined);
    if (loaded !== undefined) documents.set(path, loaded.document);
    return loaded;
  };

  /** The execution the user looked at last: the newest that is not a sub-blueprint's. */
  const lastExecution = () =>
    conductor.executions
      .list({ limit: 50 })
      .filter((execution) => execution.lineage?.parentId === undefined)
      .sort((a, b) => b.startedAt - a.startedAt)[0];

  return {
    async init() {
      for (const path of (await blueprintPaths()).keys()) await remember(path);
    },

    async apply(paths) {
      const outcome: DevOutcome = { reloaded: [], validated: [] };
      const impact = impactOf(paths, conductor.project, inProcessName);
      if (impact.projectFile) {
        outcome.projectChanged = true;
        return outcome;
      }
      if (impact.runtimes.length > 0) {
        const started = performance.now();
        try {
          await conductor.reloadRuntimes(impact.runtimes);
          outcome.reloaded = impact.runtimes;
          log(
            `reloaded ${impact.runtimes.map((name) => `runtime "${name}"`).join(", ")} (${Math.round(performance.now() - started)} ms)`,
          );
        } catch (error) {
          outcome.note = `kept the running code: ${(error as Error).message}`;
          log(outcome.note);
          return outcome;
        }
      }

      const catalog = await blueprintPaths();
      const edited = new Map<string, { before: BlueprintDocument | undefined; after: BlueprintDocument }>();
      for (const path of impact.blueprints) {
        if (!catalog.has(path)) continue;
        const before = documents.get(path);
        const { valid, diagnostics } = await conductor.validate(path);
        outcome.validated.push({ path, valid });
        if (!valid) {
          log(
            `✗ ${path} has ${diagnostics.length} problem${diagnostics.length === 1 ? "" : "s"}:\n${formatDiagnostics(diagnostics)}`,
          );
          continue;
        }
        const loaded = await remember(path);
        if (loaded !== undefined) edited.set(path, { before, after: loaded.document });
        log(`✓ ${path} is valid`);
      }
      // Files that are neither a blueprint of the project nor code of a runtime (data, notes, logs) change nothing.
      if (outcome.validated.length === 0 && outcome.reloaded.length === 0) return outcome;
      if (outcome.validated.some((entry) => !entry.valid)) {
        outcome.note = "not re-run: a blueprint that changed is invalid";
        log(outcome.note);
        return outcome;
      }

      const last = lastExecution();
      if (last === undefined) {
        outcome.note =
          "nothing to re-run yet: run a blueprint (from the debugger, the API or `conductor dev <blueprint>`)";
        log(outcome.note);
        return outcome;
      }
      if (last.status === "running") {
        outcome.note = `not re-run: execution ${last.executionId} is still running`;
        log(outcome.note);
        return outcome;
      }
      const path = [...catalog].find(([, id]) => id === last.blueprintId)?.[0];
      if (path === undefined) {
        outcome.note = `not re-run: blueprint "${last.blueprintId}" of the last execution is not a file of the project`;
        log(outcome.note);
        return outcome;
      }

      const from = new Set<string>();
      const edit = edited.get(path);
      let outputsChanged = false;
      if (edit !== undefined) {
        for (const node of changedNodes(edit.before, edit.after)) from.add(node);
        outputsChanged = documentChanged(edit.before, edit.after);
      }
      let prepared: Awaited<ReturnType<Conductor["prepare"]>>;
      try {
        prepared = await conductor.prepare(path);
      } catch (error) {
        outcome.note = `not re-run: ${(error as Error).message}`;
        log(outcome.note);
        return outcome;
      }
      if (outcome.reloaded.length > 0) {
        const reloaded = new Set(outcome.reloaded);
        for (const node of prepared.graph.nodes) {
          // The in-process runtime serves the built-in library too, which a project edit does not change.
          if (!reloaded.has(node.runtime)) continue;
          if (node.runtime === inProcessName && node.type.startsWith("core.")) continue;
          from.add(node.id);
        }
      }
      if (from.size === 0 && outputsChanged) {
        // Only the blueprint's outputs or inputs changed: its last node runs again so the outputs are computed anew.
        const lastNode = prepared.graph.nodes[prepared.graph.order.at(-1)!];
        if (lastNode !== undefined) from.add(lastNode.id);
      }
      if (from.size === 0) {
        outcome.note = `nothing of blueprint "${last.blueprintId}" changed; the last execution stands`;
        log(outcome.note);
        return outcome;
      }
      try {
        const handle = await conductor.rerun(last.executionId, [...from], { blueprint: path });
        log(`re-running ${last.blueprintId} from ${[...from].join(", ")} as ${handle.executionId}`);
        const result = await handle.result;
        outcome.rerun = { of: last.executionId, from: [...from], result };
        log(
          result.status === "completed"
            ? `→ ${result.executionId} completed: ${stringifyJson(result.outputs)}`
            : `→ ${result.executionId} ${result.status}${result.failure === undefined ? "" : `: ${result.failure.message}`}`,
        );
      } catch (error) {
        outcome.note = `not re-run: ${(error as Error).message}`;
        log(outcome.note);
      }
      return outcome;
    },
  };
}
