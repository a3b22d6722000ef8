import { ConductorError } from "../../errors.js";
import type { Project, RuntimeSpec } from "../../project/project-config.js";
import type { RuntimeLaunch } from "../runtime-process.js";
import { prepareNodeLaunch } from "./node-launch.js";
import { preparePythonLaunch } from "./python-launch.js";
import { prepareRustLaunch } from "./rust-launch.js";

/** Options of {@link prepareLaunch}. */
export interface PrepareOptions {
  /** Rebuild or reinstall even when what exists looks current (`conductor setup`). */
  force?: boolean;
  /** Reports slow set-up steps (creating a venv, building a crate). */
  onProgress?: (message: string) => void;
}

/**
 * Turns a runtime of the project into the command that starts it, setting up what it needs first, idempotently:
 * a Python venv with conductor-runtime and the requirements, a release build of a Rust package.
 */
export async function prepareLaunch(
  name: string,
  spec: RuntimeSpec,
  project: Project,
  options: PrepareOptions = {},
): Promise<RuntimeLaunch> {
  const launch = await launchOf(name, spec, project, options);
  // Every kind that is a process takes the spec's env, over what its launcher sets (Python's PYTHONUNBUFFERED).
  return spec.kind === "wasm" || spec.env === undefined
    ? launch
    : { ...launch, env: { ...launch.env, ...spec.env } };
}

function launchOf(
  name: string,
  spec: RuntimeSpec,
  project: Project,
  options: PrepareOptions,
): Promise<RuntimeLaunch> | RuntimeLaunch {
  switch (spec.kind) {
    case "node":
      return prepareNodeLaunch(spec, project);
    case "python":
      return preparePythonLaunch(name, spec, project, options);
    case "rust":
      return prepareRustLaunch(name, spec, project, options);
    case "command":
      return { command: spec.command[0]!, args: spec.command.slice(1), cwd: project.dir };
    case "wasm":
      throw new ConductorError(
        "runtime_start_failed",
        `runtime "${name}" is of kind wasm: it runs inside the host and has no process to launch`,
      );
  }
}
