import type { NodeDefinition } from "@conductor/sdk";
import type { ServedRuntime, ServeRuntimeOptions } from "@conductor/sdk/serve";

/** What the sidecar needs from the sdk, passed in so tests can stand in for it. */
export interface SidecarDependencies {
  loadNodeModules(modules: readonly string[], baseDir: string): Promise<NodeDefinition[]>;
  serveRuntime(options: ServeRuntimeOptions): Promise<ServedRuntime>;
}

/** Parses the sidecar's arguments: module paths, and `--max-concurrency=N`. */
export function parseSidecarArgs(args: readonly string[]): { modules: string[]; maxConcurrency?: number } {
  const modules: string[] = [];
  let maxConcurrency: number | undefined;
  for (const arg of args) {
    if (arg.startsWith("--max-concurrency=")) {
      const value = Number(arg.slice("--max-concurrency=".length));
      if (!Number.isInteger(value) || value < 1) {
        throw new Error(`--max-concurrency expects a positive integer, found "${arg.slice(18)}"`);
      }
      maxConcurrency = value;
    } else if (arg.startsWith("--")) {
      throw new Error(
        `unknown option "${arg}"; usage: conductor-runtime-node <module>... [--max-concurrency=N]`,
      );
    } else modules.push(arg);
  }
  return maxConcurrency === undefined ? { modules } : { modules, maxConcurrency };
}

/**
 * Loads the node modules and serves them. The cookie check in `serveRuntime` runs before any module is loaded,
 * so a sidecar started by hand explains itself without importing user code.
 */
export async function startSidecar(
  args: readonly string[],
  sdk: SidecarDependencies,
): Promise<ServedRuntime> {
  const { modules, maxConcurrency } = parseSidecarArgs(args);
  return sdk.serveRuntime({
    nodes: async () => {
      if (modules.length === 0)
        throw new Error("no node modules given; usage: conductor-runtime-node <module>...");
      return sdk.loadNodeModules(modules, process.cwd());
    },
    implementation: { name: "conductor-runtime-node", version: "0.1.0" },
    ...(maxConcurrency === undefined ? {} : { maxConcurrency }),
  });
}
