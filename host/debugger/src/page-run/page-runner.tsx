import type { BrowserEngine, BrowserJournal, ExecutionEvent } from "@conductor/host/browser";
import { apiEventInPage, blueprintViewInPage } from "@conductor/host/browser-views";
import type { Blueprint } from "@conductor/sdk/client";
import { useCallback, useEffect, useState } from "preact/hooks";
import { BlueprintDiagnostics } from "../blueprint-diagnostics.js";
import { applyEvent, type ExecutionView, startingExecution } from "../execution-state.js";
import { formatDuration } from "../format.js";
import { GraphView } from "../graph-view.js";
import { InputsForm } from "../inputs-form.js";
import { SidePanel } from "../side-panel.js";

/** A blueprint a page offers to run: its text (YAML or JSON) and a path naming it in messages. */
export interface PageBlueprint {
  path: string;
  text: string;
}

export interface PageRunnerProps {
  /** The engine of this page (`createBrowserEngine`), with the page's TypeScript and WebAssembly nodes. */
  engine: BrowserEngine;
  /** Its journal, when it has one that outlives the page (`createIndexedDbJournal`): a reload resumes from it. */
  journal?: BrowserJournal;
  blueprints: readonly PageBlueprint[];
  /** When given, a button leaves the page mode (the debugger `conductor serve` serves goes back to the server). */
  onLeave?: () => void;
}

interface Shown {
  text: string | object;
  view: Blueprint;
}

/**
 * The debugger's "run in this page" mode: the same graph, inputs form and side panel as against a server, driven
 * by the engine in the page rather than by WatchExecution. Nothing is asked of any server once the page has
 * loaded: blueprints are validated, run and recorded here, and an execution the page's journal records as running
 * (the page was reloaded during it) is shown from its recorded events and resumed.
 */
export function PageRunner({ engine, journal, blueprints, onLeave }: PageRunnerProps) {
  const [shown, setShown] = useState<Shown>();
  const [execution, setExecution] = useState<ExecutionView>();
  const [selected, setSelected] = useState<string>();
  const [problem, setProblem] = useState<string>();
  const [cancel, setCancel] = useState<() => void>();

  // Events of the execution shown update the view; those of another (one started before) are dropped.
  const follow = useCallback(
    (event: ExecutionEvent) =>
      setExecution((view) =>
        view === undefined || view.executionId !== event.executionId
          ? view
          : applyEvent(view, apiEventInPage(event)),
      ),
    [],
  );

  const choose = useCallback(
    async (index: number) => {
      const blueprint = blueprints[index];
      if (blueprint === undefined) return;
      setExecution(undefined);
      setSelected(undefined);
      setShown({
        text: blueprint.text,
        view: await blueprintViewInPage(engine, blueprint.text, blueprint.path),
      });
    },
    [engine, blueprints],
  );

  useEffect(() => {
    const resumeOrChoose = async () => {
      const unfinished = (await journal?.unfinished()) ?? [];
      const recorded = unfinished[0];
      if (recorded === undefined) return choose(0);
      const text = recorded.blueprint;
      setShown({ text, view: await blueprintViewInPage(engine, text as string, "<resumed>") });
      let view = startingExecution(recorded.executionId, recorded.blueprintId);
      for (const event of (await journal?.events(recorded.executionId)) ?? [])
        view = applyEvent(view, apiEventInPage(event));
      setExecution(view);
      const [resumed] = await engine.resumeUnfinished({ onEvent: follow });
      if (resumed !== undefined) await watch(resumed.result, () => resumed.cancel("cancelled in the page"));
    };
    resumeOrChoose().catch((error: unknown) => setProblem(messageOf(error)));
  }, [engine, journal, choose, follow]);

  const watch = async (result: Promise<unknown>, stop: () => void) => {
    setCancel(() => stop);
    try {
      await result;
    } finally {
      setCancel(undefined);
    }
  };

  const run = async (inputs: Record<string, unknown>) => {
    if (shown === undefined) return;
    setProblem(undefined);
    setSelected(undefined);
    try {
      const executionId = globalThis.crypto.randomUUID();
      setExecution(startingExecution(executionId, shown.view.id));
      const started = await engine.start(shown.text as string, inputs, { executionId, onEvent: follow });
      await watch(started.result, () => started.cancel("cancelled in the page"));
    } catch (error) {
      setExecution(undefined);
      setProblem(messageOf(error));
    }
  };

  const blueprint = shown?.view;
  const running = execution?.status === "running";
  const selectedNode = blueprint?.graph?.nodes.find((node) => node.id === selected);
  return (
    <div class="app" data-mode="page">
      <header>
        <h1>Conductor</h1>
        <span class="badge page-mode" title="no server: the engine runs in this page">
          runs in this page
        </span>
        {onLeave === undefined ? null : (
          <button type="button" class="leave-page-mode" onClick={() => onLeave()} disabled={running}>
            Back to the server
          </button>
        )}
        <label class="blueprint-picker">
          Blueprint{" "}
          <select
            name="blueprint"
            aria-label="blueprint"
            value={String(
              Math.max(
                0,
                blueprints.findIndex((b) => b.text === shown?.text),
              ),
            )}
            onChange={(event) => void choose(Number((event.currentTarget as HTMLSelectElement).value))}
          >
            {blueprints.map((b, index) => (
              <option key={b.path} value={String(index)}>
                {b.path}
              </option>
            ))}
          </select>
        </label>
        {execution === undefined ? null : (
          <span
            class="execution-status"
            data-execution-status={execution.status}
            data-outputs={execution.outputsJson}
          >
            <span class={`badge status-${execution.status}`}>{execution.status}</span>
            {execution.durationMs === undefined ? "" : ` in ${formatDuration(execution.durationMs)}`}
            <code class="muted"> {execution.executionId}</code>
            {running && cancel !== undefined ? (
              <button type="button" class="cancel" onClick={() => cancel()}>
                Cancel
              </button>
            ) : null}
          </span>
        )}
      </header>
      {problem === undefined ? null : (
        <div class="problem" role="alert">
          <b>{problem}</b>
          <button type="button" class="dismiss" onClick={() => setProblem(undefined)} aria-label="dismiss">
            ×
          </button>
        </div>
      )}
      <nav class="left">
        {blueprint === undefined ? null : (
          <>
            {blueprint.description === "" ? null : <p class="muted">{blueprint.description}</p>}
            <InputsForm inputs={blueprint.inputs} running={running} onRun={(inputs) => void run(inputs)} />
          </>
        )}
      </nav>
      <main>
        <BlueprintDiagnostics diagnostics={blueprint?.diagnostics} />
        {blueprint?.graph === undefined ? (
          <div class="empty">Loading…</div>
        ) : (
          <GraphView
            graph={blueprint.graph}
            execution={execution}
            selected={selected}
            onSelect={setSelected}
          />
        )}
      </main>
      <SidePanel execution={execution} node={selectedNode} nodeId={selected} />
    </div>
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
