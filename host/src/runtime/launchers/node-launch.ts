import { resolve } from "node:path";
import { repositoryPath } from "../../package-dir.js";
import type { Project, RuntimeSpec } from "../../project/project-config.js";
import type { RuntimeLaunch } from "../runtime-process.js";

/** The Node sidecar: the same Node binary as the host, running runtimes/node with the project's node modules. */
export function prepareNodeLaunch(
  spec: Extract<RuntimeSpec, { kind: "node" }>,
  project: Project,
): RuntimeLaunch {
  const main = repositoryPath("runtimes", "node", "dist", "main.js");
  const args = [
    main,
    ...spec.modules.map((module) => (module.startsWith(".") ? resolve(project.dir, module) : module)),
  ];
  if (spec.maxConcurrency !== undefined) args.push(`--max-concurrency=${spec.maxConcurrency}`);
  return { command: process.execPath, args, cwd: project.dir };
}
