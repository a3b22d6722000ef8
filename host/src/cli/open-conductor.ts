import { resolve } from "node:path";
import { blueprintDir, type Conductor, createConductor } from "../conductor.js";

/**
 * Opens the conductor a command runs in: the project given with --project, else the one the blueprint belongs
 * to, else the current directory's. Runtime notices go to stderr, so stdout stays clean for --json.
 */
export async function openConductor(options: {
  project?: string | undefined;
  blueprint?: string | undefined;
  stderr: NodeJS.WriteStream;
  verbose?: boolean;
}): Promise<Conductor> {
  const projectDir =
    options.project !== undefined
      ? resolve(options.project)
      : options.blueprint !== undefined
        ? blueprintDir(options.blueprint)
        : process.cwd();
  return createConductor({
    projectDir,
    onNotice: (message) => options.stderr.write(`conductor: ${message}\n`),
    ...(options.verbose === true
      ? { onRuntimeStderr: (runtime: string, line: string) => options.stderr.write(`[${runtime}] ${line}\n`) }
      : {}),
  });
}
