import type { BlueprintGraph } from "@conductor/sdk/client";
import dagre from "@dagrejs/dagre";

/** A node placed on the canvas (centre coordinates, as dagre gives them). */
export interface PlacedNode {
  id: string;
  /** "node" for a blueprint node, "inputs"/"outputs" for the blueprint's own inputs and outputs. */
  kind: "node" | "inputs" | "outputs";
  title: string;
  type: string;
  runtime: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PlacedEdge {
  from: string;
  to: string;
  /** The ports it joins: `<from port> → <to port>`. */
  label: string;
  /** The source's output port (empty for an edge from the blueprint's inputs). */
  fromPort: string;
  points: { x: number; y: number }[];
  /** Where the label's centre goes: dagre leaves room for it between the ranks. */
  labelAt: { x: number; y: number } | undefined;
}

export interface GraphLayout {
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  /** The box that holds every node and every edge, for the SVG viewBox. */
  left: number;
  top: number;
  width: number;
  height: number;
}

export const INPUTS_NODE = "inputs";
export const OUTPUTS_NODE = "outputs";
const NODE_WIDTH = 190;
const NODE_HEIGHT = 64;
const PSEUDO_WIDTH = 110;
const PSEUDO_HEIGHT = 36;
/** The size dagre reserves for an edge's label: an estimate of 10 px text, since layout runs before drawing. */
const LABEL_CHAR_WIDTH = 6;
const LABEL_HEIGHT = 14;

/**
 * Lays a blueprint graph out with dagre (layered, few crossings), left to right or top to bottom, whichever is
 * narrower: the canvas sits between two side panels, so width is what it lacks, and scrolling down is natural. A
 * chain then runs down the page at its natural size instead of being shrunk to fit across it; a wide fan-out
 * still runs across. The pseudo nodes "inputs" and "outputs" appear only when the blueprint has inputs or outputs.
 */
export function layoutGraph(graph: BlueprintGraph): GraphLayout {
  const across = layoutGraphIn(graph, "LR");
  const down = layoutGraphIn(graph, "TB");
  return down.width < across.width ? down : across;
}

/** Lays a blueprint graph out in one direction: "LR" (left to right) or "TB" (top to bottom). */
export function layoutGraphIn(graph: BlueprintGraph, direction: "LR" | "TB"): GraphLayout {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({
    rankdir: direction,
    nodesep: direction === "LR" ? 28 : 36,
    ranksep: direction === "LR" ? 70 : 44,
    marginx: 16,
    marginy: 16,
  });
  g.setDefaultEdgeLabel(() => ({}));
  const placed = new Map<string, Omit<PlacedNode, "x" | "y">>();
  const used = new Set(graph.edges.flatMap((edge) => [edge.fromNode, edge.toNode]));
  for (const pseudo of [INPUTS_NODE, OUTPUTS_NODE] as const) {
    if (!used.has(pseudo) || graph.nodes.some((node) => node.id === pseudo)) continue;
    placed.set(pseudo, {
      id: pseudo,
      kind: pseudo,
      title: pseudo,
      type: "",
      runtime: "",
      width: PSEUDO_WIDTH,
      height: PSEUDO_HEIGHT,
    });
  }
  for (const node of graph.nodes) {
    placed.set(node.id, {
      id: node.id,
      kind: "node",
      title: node.title || node.id,
      type: node.type,
      runtime: node.runtime,
      width: NODE_WIDTH,
      height: NODE_HEIGHT,
    });
  }
  for (const node of placed.values()) g.setNode(node.id, { width: node.width, height: node.height });
  graph.edges.forEach((edge, index) => {
    if (!placed.has(edge.fromNode) || !placed.has(edge.toNode)) return;
    const label = edgeLabel(edge.fromPort, edge.toPort);
    g.setEdge(
      edge.fromNode,
      edge.toNode,
      {
        label,
        fromPort: edge.fromPort,
        width: label.length * LABEL_CHAR_WIDTH,
        height: LABEL_HEIGHT,
        labelpos: "c",
      },
      `e${index}`,
    );
  });
  dagre.layout(g);
  const nodes = [...placed.values()].map((node) => {
    const at = g.node(node.id);
    return { ...node, x: at.x, y: at.y };
  });
  const edges = g.edges().map((key) => {
    const placedEdge = g.edge(key) as {
      label?: string;
      fromPort?: string;
      points?: { x: number; y: number }[];
      x?: number;
      y?: number;
    };
    return {
      from: key.v,
      to: key.w,
      label: placedEdge.label ?? "",
      fromPort: placedEdge.fromPort ?? "",
      points: placedEdge.points ?? [],
      labelAt:
        placedEdge.x === undefined || placedEdge.y === undefined
          ? undefined
          : { x: placedEdge.x, y: placedEdge.y },
    };
  });
  // dagre's graph size leaves out edges that bend around other nodes, so the box is measured here.
  const xs = [
    ...nodes.flatMap((n) => [n.x - n.width / 2, n.x + n.width / 2]),
    ...edges.flatMap((e) => e.points.map((p) => p.x)),
    ...edges.flatMap((e) =>
      e.labelAt === undefined ? [] : [e.labelAt.x - labelWidth(e) / 2, e.labelAt.x + labelWidth(e) / 2],
    ),
  ];
  const ys = [
    ...nodes.flatMap((n) => [n.y - n.height / 2, n.y + n.height / 2]),
    ...edges.flatMap((e) => e.points.map((p) => p.y)),
    ...edges.flatMap((e) =>
      e.labelAt === undefined ? [] : [e.labelAt.y - LABEL_HEIGHT / 2, e.labelAt.y + LABEL_HEIGHT / 2],
    ),
  ];
  const margin = 16;
  const left = Math.min(...xs) - margin;
  const top = Math.min(...ys) - margin;
  return {
    nodes,
    edges,
    left,
    top,
    width: Math.max(...xs) + margin - left,
    height: Math.max(...ys) + margin - top,
  };
}

function labelWidth(edge: PlacedEdge): number {
  return edge.label.length * LABEL_CHAR_WIDTH;
}

/** The label of an edge: the port it leaves and the port it enters (`text → data`). */
export function edgeLabel(fromPort: string, toPort: string): string {
  return `${fromPort} → ${toPort}`;
}

/** A graph for an execution whose blueprint is no longer in the project: its nodes, without edges. */
export function graphOfNodeIds(nodeIds: string[]): BlueprintGraph {
  return {
    $typeName: "conductor.api.v1.BlueprintGraph",
    nodes: nodeIds.map((id) => ({
      $typeName: "conductor.api.v1.GraphNode",
      id,
      type: "",
      runtime: "",
      title: id,
      description: "",
      inputs: [],
      outputs: [],
      literalInputsJson: "",
      role: "step",
    })),
    edges: [],
  };
}
