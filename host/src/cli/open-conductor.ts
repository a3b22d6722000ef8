import { join, resolve } from "node:path";
import { blueprintDir, type Conductor, createConductor } from "../conductor.js";
import { findProject } from "../project/project-config.js";
import type { ConductorMetrics } from "../telemetry/conductor-metrics.js";
import type { HostLog } from "../telemetry/json-log.js";
import type { LogFormat, LogLevelName } from "../telemetry/log-settings.js";

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
  /**
   * A command that ends when its work is done (`run`, `resume`, `rerun`, `nodes`): a broken runtime is reported
   * once, as the command's error, and not tried again after a cool-down it would never reach.
   */
  oneShot?: boolean;
  /** --redis and --remote: run the nodes of the remote runtimes on workers (docs/distributed.md). */
  redis?: string | undefined;
  remote?: string | undefined;
  /** The JSON log (`--log-format json`): notices, runtime output and every execution's events go to it. */
  log?: HostLog | undefined;
  /** `conductor resume --allow-code-change`: resume an execution of a deployed version whose node code changed. */
  allowCodeChange?: boolean;
}): Promise<Conductor> {
  const startDir =
    options.project !== undefined
      ? resolve(options.project)
      : options.blueprint !== undefined
        ? blueprintDir(options.blueprint)
        : process.cwd();
  const project = await findProject(startDir);
  const log = options.log;
  const redis = options.redis ?? process.env.CONDUCTOR_REDIS;
  const remote = (options.remote ?? process.env.CONDUCTOR_REMOTE_RUNTIMES)
    ?.split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  return createConductor({
    project,
    ...(options.oneShot === true ? { supervision: { retryBroken: false } } : {}),
    ...(options.allowCodeChange === true ? { codeChange: "warn" as const } : {}),
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
    ...(redis === undefined || redis === "" || remote === undefined || remote.length === 0
      ? {}
      : {
          distributed: {
            redis,
            remoteRuntimes: remote,
            // In JSON-log mode a notice is a line of that log, like every other notice.
            onNotice:
              log === undefined
                ? (message: string) => options.stderr.write(`conductor: ${message}\n`)
                : (message: string) => log.notice(message),
          },
        }),
    ...(options.journal === false
      ? {}
      : {
          journal: {
            path: journalPath(project.dir),
            ...(options.label === undefined ? {} : { lease: { label: options.label } }),
          },
        }),
    ...(log === undefined ? {} : { observers: [log] }),
    onNotice:
      log === undefined
        ? (message) => options.stderr.write(`conductor: ${message}\n`)
        : (message) => log.notice(message),
    ...(log !== undefined
      ? {
          // Every line, at level debug: shown with --log-level debug (or --verbose).
          onRuntimeStderr: (runtime: string, line: string) => log.runtimeOutput(runtime, "stderr", line),
          onRuntimeStdout: (runtime: string, line: string) => log.runtimeOutput(runtime, "stdout", line),
        }
      : options.verbose === true
        ? {
            onRuntimeStderr: (runtime: string, line: string) =>
              options.stderr.write(`[${runtime}] ${line}\n`),
            // Marked apart: a runtime's stdout after its handshake line is a mistake the runtime should fix.
            onRuntimeStdout: (runtime: string, line: string) =>
              options.stderr.write(`[${runtime} stdout] ${line}\n`),
          }
        : {}),
  });
}

/**
 * The JSON log a command was asked for (`--log-format json`, or CONDUCTOR_LOG_FORMAT), writing to `stderr`; undefined
 * for the text log. pino is loaded only then.
 */
export async function openHostLog(
  settings: { format: LogFormat; level: LogLevelName },
  stderr: NodeJS.WritableStream,
): Promise<HostLog | undefined> {
  if (settings.format !== "json") return undefined;
  const { createJsonLog } = await import("../telemetry/json-log.js");
  return createJsonLog({ destination: stderr, level: settings.level });
}
