/**
 * Which log the host writes, read without loading the logger: the JSON log (`json-log.ts`, pino) is imported only
 * when asked for, because the text log costs a command nothing to start.
 */

/** The levels of the host's JSON log, lowest first (pino's names). */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

/** How the host logs: the text people read (default), or JSON lines for log pipelines. */
export type LogFormat = "text" | "json";

/** The log format and level a command was asked for, or the problem with what it was given. */
export function logSettingsOf(
  given: { format?: string | undefined; level?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): { format: LogFormat; level: LogLevelName } | { problem: string } {
  const format = given.format ?? env.CONDUCTOR_LOG_FORMAT ?? "text";
  if (format !== "text" && format !== "json") {
    const from = given.format === undefined ? "CONDUCTOR_LOG_FORMAT" : "--log-format";
    return { problem: `${from} takes "text" or "json", got "${format}"` };
  }
  const level = given.level ?? env.CONDUCTOR_LOG_LEVEL ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    const from = given.level === undefined ? "CONDUCTOR_LOG_LEVEL" : "--log-level";
    return { problem: `${from} takes one of ${LOG_LEVELS.join(", ")}, got "${level}"` };
  }
  return { format, level: level as LogLevelName };
}
