import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import type { Project, RuntimeSpec } from "../../project/project-config.js";
import type { RuntimeLaunch } from "../runtime-process.js";

/**
 * The Node sidecar's entry point, found through the `@conductor/runtime-node` package the host depends on: in a
 * user's project that is node_modules/@conductor/runtime-node, in this repository the workspace's runtimes/node.
 */
export function sidecarMain(): string {
  const manifest = createRequire(import.meta.url).resolve("@conductor/runtime-node/package.json");
  return join(dirname(manifest), "dist", "main.js");
}

/** The Node sidecar: the same Node binary as the host, running @conductor/runtime-node with the project's modules. */
export function prepareNodeLaunch(
  spec: Extract<RuntimeSpec, { kind: "node" }>,
  project: Project,
): RuntimeLaunch {
  const args = [
    sidecarMain(),
    ...spec.modules.map((module) => (module.startsWith(".") ? resolve(project.dir, module) : module)),
  ];
  if (spec.maxConcurrency !== undefined) args.push(`--max-concurrency=${spec.maxConcurrency}`);
  return { command: process.execPath, args, cwd: project.dir };
}
