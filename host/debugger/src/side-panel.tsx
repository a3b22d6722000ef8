import type { Failure, GraphNode } from "@conductor/sdk/client";
import type { ExecutionView, NodeView } from "./execution-state.js";
import { formatDuration, formatTime, prettyJson } from "./format.js";
import { NodeWorker } from "./node-worker.js";
import { PortValues } from "./value-view.js";

export interface SidePanelProps {
  execution: ExecutionView | undefined;
  node: GraphNode | undefined;
  nodeId: string | undefined;
}

/** What the selected node received, gave, logged and how it failed; without a selection, the execution. */
export function SidePanel({ execution, node, nodeId }: SidePanelProps) {
  if (nodeId === undefined) return <ExecutionPanel execution={execution} />;
  const state = execution?.nodes[nodeId];
  return (
    <aside class="side-panel" aria-label={`node ${nodeId}`} data-panel="node">
      <h2>
        {nodeId}
        {state === undefined ? null : <span class={`badge status-${state.status}`}>{state.status}</span>}
      </h2>
      {node === undefined ? null : (
        <p class="muted">
          {node.type}
          {node.runtime === "" ? "" : ` · runtime ${node.runtime}`}
        </p>
      )}
      {node?.description ? <p>{node.description}</p> : null}
      {state === undefined ? (
        <p class="muted">
          {execution === undefined ? "Run the blueprint to see this node's values." : "Not run (yet)."}
        </p>
      ) : (
        <NodeDetails state={state} literals={node?.literalInputsJson ?? ""} />
      )}
    </aside>
  );
}

function NodeDetails({ state, literals }: { state: NodeView; literals: string }) {
  return (
    <>
      <dl class="facts">
        {state.attempt > 0 ? <Fact name="attempt" value={String(state.attempt)} /> : null}
        {state.runtime === "" ? null : <Fact name="runtime" value={state.runtime} />}
        <NodeWorker logs={state.logs} />
        {state.startedAt === undefined ? null : <Fact name="started" value={formatTime(state.startedAt)} />}
        {state.durationMs === undefined ? null : (
          <Fact name="duration" value={formatDuration(state.durationMs)} />
        )}
        {state.reason === undefined ? null : <Fact name="reason" value={state.reason} />}
      </dl>
      {state.progress === undefined ? null : (
        <p>
          progress {Math.round(state.progress.fraction * 100)} % {state.progress.message}
        </p>
      )}
      {state.failure === undefined ? null : <FailureView failure={state.failure} />}
      <Section title="Inputs" json={state.inputsJson === "" ? literals : state.inputsJson} name="inputs" />
      <Section title="Outputs" json={state.outputsJson} name="outputs" />
      <section class="logs" data-section="logs">
        <h3>Logs</h3>
        {state.logs.length === 0 ? (
          <p class="muted">none</p>
        ) : (
          <ol>
            {state.logs.map((log, index) => (
              <li key={`${log.at}-${index}`} class={`log-${log.level}`}>
                <span class="muted">{formatTime(log.at)}</span> <b>{log.level}</b> {log.message}
                {log.fieldsJson === "" ? null : <code> {log.fieldsJson}</code>}
              </li>
            ))}
          </ol>
        )}
      </section>
    </>
  );
}

function ExecutionPanel({ execution }: { execution: ExecutionView | undefined }) {
  if (execution === undefined) {
    return (
      <aside class="side-panel" data-panel="none">
        <p class="muted">
          Choose a blueprint, give its inputs and run it; or open a past execution. Click a node to see its
          values.
        </p>
      </aside>
    );
  }
  return (
    <aside class="side-panel" aria-label="execution" data-panel="execution">
      <h2>
        Execution <span class={`badge status-${execution.status}`}>{execution.status}</span>
      </h2>
      <dl class="facts">
        <Fact name="id" value={execution.executionId} />
        <Fact name="blueprint" value={execution.blueprintId} />
        <Fact name="started" value={formatTime(execution.startedAt)} />
        {execution.durationMs === undefined ? null : (
          <Fact name="duration" value={formatDuration(execution.durationMs)} />
        )}
      </dl>
      {execution.failure === undefined ? null : <FailureView failure={execution.failure} />}
      <Section title="Inputs" json={execution.inputsJson} name="inputs" />
      <Section title="Outputs" json={execution.outputsJson} name="outputs" />
    </aside>
  );
}

function Fact({ name, value }: { name: string; value: string }) {
  return (
    <>
      <dt>{name}</dt>
      <dd>{value}</dd>
    </>
  );
}

function Section({ title, json, name }: { title: string; json: string; name: string }) {
  return (
    <section data-section={name}>
      <h3>{title}</h3>
      <PortValues json={json} />
    </section>
  );
}

function FailureView({ failure }: { failure: Failure }) {
  return (
    <section class="failure" data-section="failure">
      <h3>Failure</h3>
      <p>
        <b>{failure.type}</b>
        {failure.retryable ? " (retryable)" : ""}: {failure.message}
      </p>
      {failure.nodeId === "" ? null : <p class="muted">in node {failure.nodeId}</p>}
      {failure.detailsJson === "" ? null : <pre class="json">{prettyJson(failure.detailsJson)}</pre>}
      {failure.stack === "" ? null : (
        <details>
          <summary>stack</summary>
          <pre>{failure.stack}</pre>
        </details>
      )}
      {failure.cause === undefined ? null : (
        <details>
          <summary>cause</summary>
          <FailureView failure={failure.cause} />
        </details>
      )}
    </section>
  );
}
