import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { isNodeDefinition, type NodeDefinition } from "../node/define-node.js";
import { registerModuleFormatHook, withReload } from "./module-format-hook.js";

/** Options of {@link loadNodeModules}. */
export interface LoadNodeModulesOptions {
  /**
   * Loads the project's own files afresh instead of from Node's module cache (`conductor dev`, after an edit):
   * a module given by path, and every file of the project it imports (not packages under node_modules), are
   * imported again as a new generation named by this value. Each generation stays in memory, which suits a
   * development session, not a long-running server reloading often.
   */
  reload?: string | number;
}

/**
 * Imports modules and collects every node definition they export (named exports, a default export, or arrays of
 * definitions). Used by the host for in-process nodes and by the Node sidecar, so a module runs the same in both.
 * Paths are resolved against `baseDir`; TypeScript files load directly on Node >= 22.18 (type stripping), and files
 * written as ES modules load even where package.json says `"type": "commonjs"` (module-format-hook.ts).
 */
export async function loadNodeModules(
  modules: readonly string[],
  baseDir: string,
  options: LoadNodeModulesOptions = {},
): Promise<NodeDefinition[]> {
  registerModuleFormatHook();
  const nodes: NodeDefinition[] = [];
  for (const specifier of modules) {
    const local = specifier.startsWith(".") || specifier.startsWith("/");
    let url = local ? pathToFileURL(resolve(baseDir, specifier)).href : specifier;
    if (local && options.reload !== undefined) url = withReload(url, options.reload);
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
