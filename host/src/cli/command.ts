import type { ParseArgsConfig, parseArgs } from "node:util";
import { ConductorError } from "../errors.js";

/** Exit codes of the `conductor` command. */
export const EXIT = {
  /** The command did what was asked (for `run`: the execution completed). */
  ok: 0,
  /** The execution ran and failed (a node failed). */
  failed: 1,
  /** Bad command line. */
  usage: 2,
  /** The blueprint, the project file or the inputs are invalid; nothing ran. */
  invalid: 3,
  /** A runtime could not be started or broke. */
  runtime: 4,
  /** What the command names does not exist: an execution id, a node of it, a runtime. */
  notFound: 5,
  /** The execution cannot be resumed now: it already finished, or another process runs it. */
  conflict: 6,
  /** The journal cannot be opened, read or written (as sysexits' EX_IOERR). */
  io: 74,
  /** A bug in the host. */
  internal: 70,
  /** The execution was cancelled (Ctrl-C). */
  cancelled: 130,
} as const;

/** What a subcommand receives. */
export interface CommandContext {
  args: string[];
  parseArgs: typeof parseArgs;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** Maps an error to an exit code and prints it; `json` prints a JSON object instead. */
export function reportError(context: CommandContext, error: unknown, json: boolean): number {
  const code = exitCodeOf(error);
  if (json) {
    const body =
      error instanceof ConductorError
        ? { error: { code: error.code, message: error.message, diagnostics: error.diagnostics } }
        : { error: { code: "internal", message: (error as Error).message } };
    context.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
  } else {
    context.stderr.write(
      `conductor: ${error instanceof ConductorError ? error.message : ((error as Error).stack ?? String(error))}\n`,
    );
  }
  return code;
}

/**
 * Reports that what a command names matched nothing (a node of an execution, a runtime): the message on stderr, or
 * `{"error": {"code": "not_found", ...}}` with --json; gives {@link EXIT.notFound}.
 */
export function reportNotFound(context: CommandContext, message: string, json: boolean): number {
  if (json) context.stdout.write(`${JSON.stringify({ error: { code: "not_found", message } }, null, 2)}\n`);
  else context.stderr.write(`conductor: ${message}\n`);
  return EXIT.notFound;
}

export function exitCodeOf(error: unknown): number {
  if (!(error instanceof ConductorError)) return EXIT.internal;
  switch (error.code) {
    case "blueprint_unreadable":
    case "blueprint_invalid":
    case "project_invalid":
    case "inputs_invalid":
    case "node_type_unknown":
      return EXIT.invalid;
    case "server_insecure":
    case "journal_required":
    case "files_exist":
      return EXIT.usage;
    case "execution_running":
    case "execution_finished":
    case "code_changed":
      return EXIT.conflict;
    case "execution_not_found":
    case "node_not_found":
      return EXIT.notFound;
    case "journal_failed":
      return EXIT.io;
    case "runtime_start_failed":
    case "abi_mismatch":
    case "runtime_broken":
      return EXIT.runtime;
    default:
      return EXIT.internal;
  }
}

/** Parses the arguments of a subcommand, turning a parse error into a usage error. */
export function parseCommandArgs<const T extends ParseArgsConfig>(
  context: CommandContext,
  config: T,
): ReturnType<typeof parseArgs<T>> | number {
  try {
    return context.parseArgs<T>({ ...config, args: context.args, strict: true });
  } catch (error) {
    context.stderr.write(
      `conductor: ${(error as Error).message}\nrun \`conductor <command> --help\` for usage\n`,
    );
    return EXIT.usage;
  }
}
