import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { isNodeDefinition, type NodeDefinition } from "../node/define-node.js";
import { registerModuleFormatHook } from "./module-format-hook.js";

/**
 * Imports modules and collects every node definition they export (named exports, a default export, or arrays of
 * definitions). Used by the host for in-process nodes and by the Node sidecar, so a module runs the same in both.
 * Paths are resolved against `baseDir`; TypeScript files load directly on Node >= 22.18 (type stripping), and files
 * written as ES modules load even where package.json says `"type": "commonjs"` (module-format-hook.ts).
 */
export async function loadNodeModules(
  modules: readonly string[],
  baseDir: string,
): Promise<NodeDefinition[]> {
  registerModuleFormatHook();
  const nodes: NodeDefinition[] = [];
  for (const specifier of modules) {
    const url =
      specifier.startsWith(".") || specifier.startsWith("/")
        ? pathToFileURL(resolve(baseDir, specifier)).href
        : specifier;
    let loaded: Record<string, unknown>;
    try {
      loaded = (await import(url)) as Record<string, unknown>;
    } catch (error) {
      throw new Error(`cannot load node module "${specifier}": ${(error as Error).message}`, {
        cause: error,
      });
    }
    const before = nodes.length;
    for (const exported of Object.values(loaded)) {
      if (isNodeDefinition(exported)) nodes.push(exported);
      else if (Array.isArray(exported)) nodes.push(...exported.filter(isNodeDefinition));
    }
    if (nodes.length === before) {
      throw new Error(
        `node module "${specifier}" exports no node definitions; export the result of defineNode()`,
      );
    }
  }
  return [...new Set(nodes)];
}
