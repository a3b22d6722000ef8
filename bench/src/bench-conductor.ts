import { fileURLToPath } from "node:url";
import { type Conductor, createConductor, type RuntimeSpec } from "@conductor/host";
import { allBenchNodes } from "./bench-nodes.js";

/** The module of bench nodes, as the Node sidecar loads it. */
export const benchNodesModule = fileURLToPath(new URL("./bench-nodes.js", import.meta.url));

/** A conductor with the bench nodes in-process and the given child-process runtimes. */
export function benchConductor(runtimes: Record<string, RuntimeSpec> = {}): Promise<Conductor> {
  return createConductor({
    builtinNodes: true,
    nodes: allBenchNodes,
    // The bare engine: no execution history recorded.
    store: false,
    project: { dir: process.cwd(), blueprints: [], nodes: [], runtimes },
  });
}
