import {
  type Blueprint,
  type BlueprintGraph,
  type BlueprintSummary,
  Code,
  type ConductorClient,
  ConnectError,
  DiagnosticsSchema,
  type ExecutionSummary,
} from "@conductor/sdk/client";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { connect, initialToken, signIn, signOut } from "./api.js";
import { BlueprintDiagnostics } from "./blueprint-diagnostics.js";
import { applyEvent, type ExecutionView, fromExecution, startingExecution } from "./execution-state.js";
import { formatDuration } from "./format.js";
import { GraphView } from "./graph-view.js";
import { HistoryList } from "./history-list.js";
import { InputsForm } from "./inputs-form.js";
import { graphOfNodeIds } from "./layout.js";
import { newerRerun } from "./lineage.js";
import type { PageMode } from "./page-run/server-page-mode.js";
import { SidePanel } from "./side-panel.js";
import { ROLE_HINT, SignedIn, SignIn } from "./sign-in.js";
import { TimelineView } from "./timeline-view.js";
import { TraceId } from "./trace-id.js";
import { ValueClient } from "./value-view.js";

/** How often a broken watch stream is opened again before the problem is shown. */
const WATCH_ATTEMPTS = 5;

interface Problem {
  message: string;
  lines: string[];
}

/** The debugger: blueprints and history on the left, the graph in the middle, the selection on the right. */
export function App() {
  const [token, setToken] = useState(initialToken);
  const client = useMemo(() => connect(token), [token]);
  const [needToken, setNeedToken] = useState(false);
  // The server's reason for refusing the credential sent (undefined while none was).
  const [refused, setRefused] = useState<string>();
  const [problem, setProblem] = useState<Problem>();
  const [blueprints, setBlueprints] = useState<BlueprintSummary[]>([]);
  const [blueprint, setBlueprint] = useState<Blueprint>();
  const [graph, setGraph] = useState<BlueprintGraph>();
  const [execution, setExecution] = useState<ExecutionView>();
  const [selected, setSelected] = useState<string>();
  const [tab, setTab] = useState<"graph" | "timeline">("graph");
  const [executions, setExecutions] = useState<ExecutionSummary[]>([]);
  const watching = useRef<AbortController | undefined>(undefined);
  const [pageMode, setPageMode] = useState<PageMode>();
  // In page mode nothing is asked of the server: the history is not polled.
  const inPageMode = useRef(false);

  const report = useCallback((error: unknown) => {
    if (error instanceof ConnectError && error.code === Code.Unauthenticated) {
      setRefused(error.rawMessage);
      setNeedToken(true);
      return;
    }
    if (error instanceof ConnectError && error.code === Code.PermissionDenied) {
      // The server's message names the caller, its role, and the roles that may.
      setProblem({ message: error.rawMessage, lines: [ROLE_HINT] });
      return;
    }
    if (error instanceof ConnectError && error.code === Code.Canceled) return;
    setProblem(describe(error));
  }, []);

  const refreshHistory = useCallback(
    () =>
      client
        .listExecutions({ limit: 50 })
        .then((response) => setExecutions(response.executions))
        .catch(report),
    [client, report],
  );

  const watch = useCallback(
    async (target: ConductorClient, executionId: string) => {
      watching.current?.abort();
      const controller = new AbortController();
      watching.current = controller;
      // A stream cut by the network or a restarting server is resumed after the last event seen.
      let afterSeq = 0;
      try {
        for (let attempt = 1; ; attempt++) {
          try {
            for await (const { event } of target.watchExecution(
              { executionId, afterSeq },
              { signal: controller.signal },
            )) {
              if (event === undefined) continue;
              afterSeq = Math.max(afterSeq, event.seq);
              attempt = 1;
              setExecution((view) =>
                view === undefined || view.executionId !== executionId ? view : applyEvent(view, event),
              );
            }
            return;
          } catch (error) {
            if (controller.signal.aborted) return;
            const retry =
              error instanceof ConnectError &&
              (error.code === Code.Unavailable || error.code === Code.Unknown) &&
              attempt < WATCH_ATTEMPTS;
            if (!retry) {
              report(error);
              return;
            }
            await new Promise((resolve) => setTimeout(resolve, attempt * 1_000));
          }
        }
      } finally {
        if (watching.current === controller) watching.current = undefined;
        void refreshHistory();
      }
    },
    [report, refreshHistory],
  );

  // The blueprint asked for last: an answer for an earlier choice that arrives later is dropped.
  const wanted = useRef<string | undefined>(undefined);

  const chooseBlueprint = useCallback(
    async (id: string) => {
      wanted.current = id;
      watching.current?.abort();
      setExecution(undefined);
      setSelected(undefined);
      setProblem(undefined);
      try {
        const response = await client.getBlueprint({ blueprintId: id });
        if (wanted.current !== id) return;
        setBlueprint(response.blueprint);
        setGraph(response.blueprint?.graph);
        const url = new URL(location.href);
        url.searchParams.set("blueprint", id);
        url.searchParams.delete("execution");
        history.replaceState(null, "", url);
      } catch (error) {
        report(error);
      }
    },
    [client, report],
  );

  useEffect(() => {
    setNeedToken(false);
    client
      .listBlueprints({})
      .then(async (response) => {
        setBlueprints(response.blueprints);
        const address = new URL(location.href).searchParams;
        // An address naming an execution (a link someone shared, or a reload) opens that execution.
        const executionId = address.get("execution");
        if (executionId !== null && wanted.current === undefined) {
          await open(executionId);
          return;
        }
        const fromAddress = address.get("blueprint");
        const first = response.blueprints.find((b) => b.id === fromAddress) ?? response.blueprints[0];
        // Unless the user chose something while the list was loading.
        if (first !== undefined && wanted.current === undefined) await chooseBlueprint(first.id);
      })
      .catch(report);
    void refreshHistory();
    const timer = setInterval(() => {
      if (document.visibilityState === "visible" && !inPageMode.current) void refreshHistory();
    }, 3_000);
    return () => clearInterval(timer);
  }, [client, chooseBlueprint, refreshHistory, report]);

  const run = async (inputs: Record<string, unknown>) => {
    if (blueprint === undefined) return;
    setProblem(undefined);
    setSelected(undefined);
    try {
      const started = await client.startExecution({
        blueprint: { case: "blueprintId", value: blueprint.id },
        inputsJson: JSON.stringify(inputs),
      });
      setExecution(startingExecution(started.executionId, started.blueprintId));
      linkTo(started.blueprintId, started.executionId);
      void refreshHistory();
      await watch(client, started.executionId);
    } catch (error) {
      report(error);
    }
  };

  const open = async (executionId: string) => {
    const choice = `execution:${executionId}`;
    wanted.current = choice;
    watching.current?.abort();
    setProblem(undefined);
    setSelected(undefined);
    try {
      const response = await client.getExecution({ executionId });
      if (response.execution === undefined || wanted.current !== choice) return;
      const view = fromExecution(response.execution);
      if (blueprint?.id !== view.blueprintId) {
        try {
          const found = await client.getBlueprint({ blueprintId: view.blueprintId });
          if (wanted.current !== choice) return;
          setBlueprint(found.blueprint);
          setGraph(found.blueprint?.graph);
        } catch (error) {
          if (!(error instanceof ConnectError && error.code === Code.NotFound)) throw error;
          setBlueprint(undefined);
          setGraph(graphOfNodeIds(Object.keys(view.nodes)));
        }
      }
      setExecution(view);
      linkTo(view.blueprintId, executionId);
      if (view.status === "running") await watch(client, executionId);
    } catch (error) {
      report(error);
    }
  };

  const cancel = async () => {
    if (execution === undefined) return;
    await client.cancelExecution({ executionId: execution.executionId }).catch(report);
  };

  // A re-run of the execution shown (`conductor dev` after an edit) is followed as soon as the history lists it.
  const shownId = execution?.executionId;
  const shownRunning = execution?.status === "running";
  const shownSince = useRef({ id: undefined as string | undefined, at: 0 });
  if (shownSince.current.id !== shownId) shownSince.current = { id: shownId, at: Date.now() };
  useEffect(() => {
    if (shownRunning) return;
    const rerun = newerRerun(shownId, executions, shownSince.current.at);
    if (rerun !== undefined) void open(rerun);
  }, [shownId, shownRunning, executions]);

  const selectedNode = graph?.nodes.find((node) => node.id === selected);
  const running = execution?.status === "running";

  /** Runs the opened blueprint with an engine in this page; its module is loaded only now (a chunk of its own). */
  const enterPageMode = async (opened: Blueprint) => {
    setProblem(undefined);
    try {
      const { pageModeFor } = await import("./page-run/server-page-mode.js");
      const mode = pageModeFor(opened);
      watching.current?.abort();
      inPageMode.current = true;
      setPageMode(mode);
    } catch (error) {
      const lines = (error as { lines?: unknown }).lines;
      setProblem({ message: (error as Error).message, lines: Array.isArray(lines) ? lines : [] });
    }
  };

  if (pageMode !== undefined) {
    return (
      <pageMode.PageRunner
        key={pageMode.blueprint.path}
        engine={pageMode.engine}
        blueprints={[pageMode.blueprint]}
        onLeave={() => {
          void pageMode.engine.close();
          inPageMode.current = false;
          setPageMode(undefined);
          void refreshHistory();
        }}
      />
    );
  }

  return (
    <div class="app">
      <header>
        <h1>Conductor</h1>
        <label class="blueprint-picker">
          Blueprint{" "}
          <select
            name="blueprint"
            aria-label="blueprint"
            value={blueprint?.id ?? ""}
            onChange={(event) => void chooseBlueprint((event.currentTarget as HTMLSelectElement).value)}
          >
            {blueprint === undefined ? <option value="">(choose)</option> : null}
            {blueprints.map((b) => (
              <option key={b.id} value={b.id}>
                {b.id}
                {b.title !== b.id ? ` · ${b.title}` : ""}
              </option>
            ))}
          </select>
        </label>
        {token === undefined || needToken ? null : (
          <SignedIn
            credential={token}
            onSignOut={() => {
              signOut();
              watching.current?.abort();
              // Signed in again, the page opens what the address names, as on a first load.
              wanted.current = undefined;
              setToken(undefined);
              setRefused(undefined);
              setBlueprints([]);
              setBlueprint(undefined);
              setGraph(undefined);
              setExecution(undefined);
              setExecutions([]);
              setProblem(undefined);
              setNeedToken(true);
            }}
          />
        )}
        {blueprint === undefined ? null : (
          <button
            type="button"
            class="page-mode"
            title="run this blueprint with an engine in this page: built-in nodes only, no server during the run"
            onClick={() => void enterPageMode(blueprint)}
          >
            Run in this page
          </button>
        )}
        {execution === undefined ? null : (
          <span class="execution-status" data-execution-status={execution.status}>
            <span class={`badge status-${execution.status}`}>{execution.status}</span>
            {execution.durationMs === undefined ? "" : ` in ${formatDuration(execution.durationMs)}`}
            <code class="muted"> {execution.executionId}</code>
            <TraceId client={client} executionId={execution.executionId} status={execution.status} />
            {running ? (
              <button type="button" class="cancel" onClick={() => void cancel()}>
                Cancel
              </button>
            ) : null}
          </span>
        )}
      </header>
      {needToken ? (
        <SignIn
          refused={token === undefined ? undefined : refused}
          onSignIn={(value) => {
            signIn(value);
            setRefused(undefined);
            setToken(value);
          }}
        />
      ) : null}
      {problem === undefined ? null : (
        <div class="problem" role="alert">
          <b>{problem.message}</b>
          {problem.lines.length === 0 ? null : (
            <ul>
              {problem.lines.map((line) => (
                <li key={line}>{line}</li>
              ))}
            </ul>
          )}
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
        <h2>Executions</h2>
        <HistoryList
          executions={executions}
          current={execution?.executionId}
          onOpen={(id) => void open(id)}
        />
      </nav>
      <main>
        <BlueprintDiagnostics diagnostics={blueprint?.diagnostics} />
        {graph === undefined ? (
          <div class="empty">{blueprints.length === 0 ? "The project has no blueprints." : "Loading…"}</div>
        ) : (
          <>
            {execution === undefined ? null : (
              <div class="view-tabs" role="tablist">
                {(["graph", "timeline"] as const).map((name) => (
                  <button
                    key={name}
                    type="button"
                    role="tab"
                    aria-selected={tab === name}
                    data-tab={name}
                    onClick={() => setTab(name)}
                  >
                    {name === "graph" ? "Graph" : "Timeline"}
                  </button>
                ))}
              </div>
            )}
            {execution !== undefined && tab === "timeline" ? (
              <TimelineView
                client={client}
                executionId={execution.executionId}
                nodeIds={graph.nodes.map((node) => node.id)}
                types={Object.fromEntries(graph.nodes.map((node) => [node.id, node.type]))}
                selected={selected}
                onSelect={setSelected}
              />
            ) : (
              <GraphView graph={graph} execution={execution} selected={selected} onSelect={setSelected} />
            )}
          </>
        )}
      </main>
      <ValueClient.Provider value={client}>
        <SidePanel execution={execution} node={selectedNode} nodeId={selected} />
      </ValueClient.Provider>
    </div>
  );
}

/** Puts the execution shown in the page's address, so that the address links to it (the token stays in the hash). */
function linkTo(blueprintId: string, executionId: string): void {
  const url = new URL(location.href);
  url.searchParams.set("blueprint", blueprintId);
  url.searchParams.set("execution", executionId);
  history.replaceState(null, "", url);
}

function describe(error: unknown): Problem {
  if (error instanceof ConnectError) {
    const lines = error
      .findDetails(DiagnosticsSchema)
      .flatMap((details) =>
        details.diagnostics.map(
          (d) => `${d.path || "(blueprint)"}: ${d.message}${d.suggestion === "" ? "" : `; ${d.suggestion}`}`,
        ),
      );
    return { message: lines.length > 0 ? error.rawMessage.split("\n")[0]! : error.rawMessage, lines };
  }
  return { message: (error as Error).message ?? String(error), lines: [] };
}
