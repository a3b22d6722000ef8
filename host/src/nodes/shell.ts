import { defineNode, NodeFailure } from "@conductor/sdk";
import { z } from "zod";
import type { ShellAccess } from "../project/project-access.js";

/** How much of stderr a failure carries, from its end, where the reason usually is. */
const STDERR_TAIL_CHARS = 2_000;
/** How long a cancelled or timed-out process gets after SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 2_000;

function tail(text: string, chars: number): string {
  return text.length <= chars ? text : `...${text.slice(-chars)}`;
}

function lastLine(text: string): string | undefined {
  const line = text.trimEnd().split("\n").pop()?.trim();
  return line === undefined || line === ""
    ? undefined
    : line.length > 200
      ? `${line.slice(0, 200)}...`
      : line;
}

/** How much of an argument a failure quotes. */
const QUOTED_ARGUMENT_CHARS = 80;

/** Options of {@link createShell}. */
export interface ShellOptions {
  /** The project's `access.shell`: with "none", every run fails; otherwise the node runs (the API keeps inline blueprints out). */
  access: ShellAccess;
}

/**
 * Creates `core.shell`: runs a program with arguments, without a shell. The command is an argv list, so nothing in
 * it or in the appended `args` input is ever interpreted by a shell (no quoting or injection issues); write
 * `["sh", "-c", "..."]` to ask for one. stdout and stderr are captured as text with the final newline removed.
 * Cancelling the step or passing `timeoutMs` sends SIGTERM, then SIGKILL after a grace period.
 *
 * Values of the `args` input may not start with "-" unless the config sets `allowOptionArgs`, because inputs
 * often come from outside (a webhook body) and the program would take such a value as an option: `find` with
 * `-exec`, `git` with `--upload-pack`, `curl` with `-o`. This guards options only; a command that runs its
 * arguments as code (`sh -c`, `python -c`, `xargs`, `env`) runs what the inputs say (docs/security.md).
 */
export const createShell = (options: ShellOptions) =>
  defineNode({
    type: "core.shell",
    title: "Run command",
    description: "Runs a program with arguments (no shell) and captures its stdout, stderr and exit code.",
    config: z.object({
      command: z
        .array(z.string())
        .min(1, "expected at least the program to run")
        .describe('The program and its arguments, e.g. ["git", "status", "--short"].'),
      cwd: z.string().min(1).optional().describe("The working directory; default: the host's."),
      env: z
        .record(z.string(), z.string())
        .optional()
        .describe("Environment variables added to the host's environment."),
      timeoutMs: z.number().int().positive().optional().describe("Longest time the program may run."),
      failOnExitCode: z.boolean().default(true).describe("Whether a non-zero exit code fails the node."),
      allowOptionArgs: z
        .boolean()
        .default(false)
        .describe(
          'Whether values of the args input may start with "-"; off, so that an input cannot pass the program an option.',
        ),
      stream: z
        .boolean()
        .default(false)
        .describe('Whether each line of stdout is also emitted on port "stdout".'),
    }),
    input: {
      stdin: z
        .string()
        .optional()
        .describe("Text written to the program's stdin; without it stdin is empty."),
      args: z.array(z.string()).optional().describe("Arguments appended to the configured command."),
    },
    output: {
      stdout: z.string().describe("Everything the program wrote to stdout."),
      stderr: z.string().describe("Everything the program wrote to stderr."),
      exitCode: z.number().int().describe("The program's exit code."),
    },
    flags: { cancellable: true, streaming: true },
    run: async (input, ctx) => {
      const { command, cwd, env, timeoutMs, failOnExitCode, stream, allowOptionArgs } = ctx.config;
      const [program, ...commandArgs] = command as [string, ...string[]];
      const label = `command "${program}"`;
      if (options.access === "none") {
        throw new NodeFailure(
          'core.shell is turned off in this project (access.shell is "none" in conductor.yaml); ask its owner to allow it',
          { type: "shell.not-allowed" },
        );
      }
      const inputArgs = input.args ?? [];
      const optionLike = allowOptionArgs ? -1 : inputArgs.findIndex((arg) => arg.startsWith("-"));
      if (optionLike >= 0) {
        const arg = inputArgs[optionLike]!;
        const quoted = arg.length > QUOTED_ARGUMENT_CHARS ? `${arg.slice(0, QUOTED_ARGUMENT_CHARS)}...` : arg;
        throw new NodeFailure(
          `input args[${optionLike}] ${JSON.stringify(quoted)} starts with "-", so ${label} could take it as an option; set allowOptionArgs: true in the node's config if its inputs may pass options`,
          { type: "shell.option-argument", details: { index: optionLike } },
        );
      }
      const args = [...commandArgs, ...inputArgs];
      // Loaded on first use: execa takes tens of milliseconds to import, which every CLI start would pay.
      const { execa } = await import("execa");
      const result = await execa(program, args, {
        ...(cwd === undefined ? {} : { cwd }),
        ...(env === undefined ? {} : { env }),
        ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }),
        ...(input.stdin === undefined ? { stdin: "ignore" as const } : { input: input.stdin }),
        stdout: stream
          ? function* (line: string) {
              ctx.emit("stdout", line);
              yield line;
            }
          : "pipe",
        stderr: "pipe",
        cancelSignal: ctx.signal,
        forceKillAfterDelay: KILL_GRACE_MS,
        reject: false,
        windowsHide: true,
      });
      if (result.isCanceled) throw ctx.signal.reason;
      const stderr = result.stderr;
      if (result.timedOut) {
        throw new NodeFailure(`${label} timed out after ${timeoutMs} ms`, {
          type: "shell.timeout",
          retryable: true,
          details: { stderr: tail(stderr, STDERR_TAIL_CHARS) },
        });
      }
      if (result.isMaxBuffer) {
        throw new NodeFailure(`${label} wrote more output than can be captured`, {
          type: "shell.output-too-large",
        });
      }
      if (result.exitCode === undefined) {
        if (result.signal !== undefined) {
          throw new NodeFailure(`${label} was killed by signal ${result.signal}`, {
            type: "shell.signal",
            details: { signal: result.signal, stderr: tail(stderr, STDERR_TAIL_CHARS) },
          });
        }
        throw new NodeFailure(`${label} could not start: ${result.originalMessage ?? result.shortMessage}`, {
          type: "shell.spawn",
          details: { code: result.code, cwd: result.cwd },
        });
      }
      if (result.exitCode !== 0 && failOnExitCode) {
        const reason = lastLine(stderr);
        throw new NodeFailure(
          `${label} exited with code ${result.exitCode}, expected 0${reason === undefined ? "" : `: ${reason}`}`,
          {
            type: "shell.exit-code",
            details: { exitCode: result.exitCode, stderr: tail(stderr, STDERR_TAIL_CHARS) },
          },
        );
      }
      return { stdout: result.stdout, stderr, exitCode: result.exitCode };
    },
  });
