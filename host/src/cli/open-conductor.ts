import { join, resolve } from "node:path";
import { blueprintDir, type Conductor, createConductor } from "../conductor.js";
import { findProject } from "../project/project-config.js";
import type { ConductorMetrics } from "../telemetry/conductor-metrics.js";

/** The journal of a project: `.conductor/journal.db` in its directory. */
export function journalPath(projectDir: string): string {
  return join(projectDir, ".conductor", "journal.db");
}

/**
 * Opens the conductor a command runs in: the project given with --project, else the one the blueprint belongs
 * to, else the current directory's; with the project's journal unless `journal` is false. Runtime notices go to
 * stderr, so stdout stays clean for --json.
 */
export async function openConductor(options: {
  project?: string | undefined;
  blueprint?: string | undefined;
  stderr: NodeJS.WriteStream;
  verbose?: boolean;
  journal?: boolean;
  /** What this process is, shown to other processes as the owner of the executions it runs. */
  label?: string;
  /** Prometheus metrics to keep (`conductor serve`). */
  metrics?: ConductorMetrics;
}): Promise<Conductor> {
  const startDir =
    options.project !== undefined
      ? resolve(options.project)
      : options.blueprint !== undefined
        ? blueprintDir(options.blueprint)
        : process.cwd();
  const project = await findProject(startDir);
  return createConductor({
    project,
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
    ...(options.journal === false
      ? {}
      : {
          journal: {
            path: journalPath(project.dir),
            ...(options.label === undefined ? {} : { lease: { label: options.label } }),
          },
        }),
    onNotice: (message) => options.stderr.write(`conductor: ${message}\n`),
    ...(options.verbose === true
      ? {
          onRuntimeStderr: (runtime: string, line: string) => options.stderr.write(`[${runtime}] ${line}\n`),
          // Marked apart: a runtime's stdout after its handshake line is a mistake the runtime should fix.
          onRuntimeStdout: (runtime: string, line: string) =>
            options.stderr.write(`[${runtime} stdout] ${line}\n`),
        }
      : {}),
  });
}
