import type { BlueprintGraph } from "@conductor/sdk/client";
import { useMemo } from "preact/hooks";
import type { ExecutionView, StreamView } from "./execution-state.js";
import { formatDuration } from "./format.js";
import { layoutGraph, type PlacedEdge, type PlacedNode } from "./layout.js";

export interface GraphViewProps {
  graph: BlueprintGraph;
  execution: ExecutionView | undefined;
  selected: string | undefined;
  onSelect(nodeId: string | undefined): void;
}

/** The blueprint as boxes and arrows, each node coloured by its state in the execution shown. */
export function GraphView({ graph, execution, selected, onSelect }: GraphViewProps) {
  const layout = useMemo(() => layoutGraph(graph), [graph]);
  if (layout.nodes.length === 0) return <div class="empty">This blueprint has no nodes.</div>;
  const width = Math.max(layout.width, 200);
  const height = Math.max(layout.height, 100);
  return (
    <svg
      class="graph"
      viewBox={`${layout.left} ${layout.top} ${width} ${height}`}
      // Drawn at its natural size when it fits, shrunk to fit down to 60 %, scrolled beyond that.
      style={{ width: "100%", maxWidth: `${width}px`, minWidth: `${Math.round(width * 0.6)}px` }}
      preserveAspectRatio="xMidYMin meet"
      role="img"
      aria-label="blueprint graph"
      onClick={() => onSelect(undefined)}
      onKeyDown={(event) => {
        if (event.key === "Escape") onSelect(undefined);
      }}
    >
      <defs>
        <marker
          id="arrow"
          viewBox="0 0 10 10"
          refX="9"
          refY="5"
          markerWidth="7"
          markerHeight="7"
          orient="auto"
        >
          <path d="M 0 0 L 10 5 L 0 10 z" class="arrow-head" />
        </marker>
      </defs>
      {layout.edges.map((edge) => (
        <Edge
          key={`${edge.from}-${edge.to}-${edge.label}`}
          edge={edge}
          stream={execution?.nodes[edge.from]?.streams?.[edge.fromPort]}
        />
      ))}
      {layout.nodes.map((node) => (
        <Node
          key={node.id}
          node={node}
          execution={execution}
          selected={selected === node.id}
          onSelect={onSelect}
        />
      ))}
    </svg>
  );
}

/** An edge; one that carries a stream shows how many items have passed and animates while the stream is open. */
function Edge({ edge, stream }: { edge: PlacedEdge; stream: StreamView | undefined }) {
  const [first, ...rest] = edge.points;
  if (first === undefined) return null;
  const d = `M ${first.x} ${first.y} ${rest.map((p) => `L ${p.x} ${p.y}`).join(" ")}`;
  const label = stream === undefined ? edge.label : `${edge.label} · ${streamLabel(stream)}`;
  return (
    <g
      class={stream === undefined ? "edge-group" : `edge-group stream stream-${stream.state}`}
      data-edge={`${edge.from}->${edge.to}`}
      data-stream-items={stream?.items}
      data-stream-state={stream?.state}
    >
      <path class="edge" d={d} marker-end="url(#arrow)">
        <title>{label}</title>
      </path>
      {edge.labelAt === undefined || label === "" ? null : (
        <text class="edge-label" x={edge.labelAt.x} y={edge.labelAt.y + 3.5} text-anchor="middle">
          {label}
        </text>
      )}
    </g>
  );
}

function streamLabel(stream: StreamView): string {
  const items = `${stream.items.toLocaleString("en-US")} ${stream.items === 1 ? "item" : "items"}`;
  return stream.state === "open" ? items : `${items}, ${stream.state}`;
}

function Node({
  node,
  execution,
  selected,
  onSelect,
}: {
  node: PlacedNode;
  execution: ExecutionView | undefined;
  selected: boolean;
  onSelect(nodeId: string): void;
}) {
  const left = node.x - node.width / 2;
  const top = node.y - node.height / 2;
  if (node.kind !== "node") {
    return (
      <g class={`pseudo ${node.kind}`} data-node-id={node.id}>
        <rect x={left} y={top} width={node.width} height={node.height} rx={node.height / 2} />
        <text x={node.x} y={node.y + 4} text-anchor="middle">
          {node.kind}
        </text>
      </g>
    );
  }
  const state = execution?.nodes[node.id];
  const status = state?.status ?? (execution === undefined ? "idle" : "pending");
  const detail =
    state === undefined
      ? node.type
      : `${status}${state.durationMs === undefined ? "" : ` · ${formatDuration(state.durationMs)}`}${state.attempt > 1 ? ` · attempt ${state.attempt}` : ""}`;
  return (
    // biome-ignore lint/a11y/useSemanticElements: SVG has no <button>; the group gets the role and keyboard handling
    <g
      class={`node status-${status}${selected ? " selected" : ""}`}
      data-node-id={node.id}
      data-status={status}
      role="button"
      tabIndex={0}
      aria-label={`node ${node.id}: ${status}`}
      onClick={(event) => {
        event.stopPropagation();
        onSelect(node.id);
      }}
      onKeyDown={(event) => {
        if (event.key === "Enter" || event.key === " ") onSelect(node.id);
      }}
    >
      <rect x={left} y={top} width={node.width} height={node.height} rx={8} />
      <rect class="status-bar" x={left} y={top} width={6} height={node.height} rx={3} />
      <text class="title" x={left + 16} y={top + 22}>
        {clip(node.title, 22)}
      </text>
      <text class="subtitle" x={left + 16} y={top + 40}>
        {clip(node.type, 26)}
      </text>
      <text class="detail" x={left + 16} y={top + 56}>
        {clip(state === undefined ? node.runtime : detail, 30)}
      </text>
      {state?.progress !== undefined && status === "running" ? (
        <rect
          class="progress"
          x={left}
          y={top + node.height - 3}
          width={node.width * Math.min(1, Math.max(0, state.progress.fraction))}
          height={3}
        />
      ) : null}
      <title>{`${node.id} (${node.type})${detail === node.type ? "" : `\n${detail}`}`}</title>
    </g>
  );
}

function clip(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}
