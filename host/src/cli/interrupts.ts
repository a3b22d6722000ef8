import { constants } from "node:os";

/** The signals that cancel a command's execution: Ctrl-C, `kill`, a closed terminal. */
export const INTERRUPT_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** Exit code of a command whose stdout was closed by its reader (`conductor run … | head -1`), as for SIGPIPE. */
export const STDOUT_CLOSED_EXIT = 128 + constants.signals.SIGPIPE;

/** What {@link createInterrupts} listens on: the process, or a stand-in in tests. */
export interface InterruptSource {
  on(signal: (typeof INTERRUPT_SIGNALS)[number], listener: () => void): unknown;
  off(signal: (typeof INTERRUPT_SIGNALS)[number], listener: () => void): unknown;
  exit(code: number): never;
}

/** Options of {@link createInterrupts}. */
export interface InterruptsOptions {
  /** Where the notices go (stderr: stdout stays the command's output, JSON with --json). */
  stderr: NodeJS.WritableStream;
  /** Called once, on the first signal or when stdout closes, with the reason: cancel the execution. */
  onInterrupt(reason: string): void;
  /** Called on a second signal, just before the process exits, with the reason: record what cannot finish now. */
  onForcedExit?: (reason: string) => void;
  /** Default: the process. */
  source?: InterruptSource;
}

/** An interruption being watched for; see {@link createInterrupts}. */
export interface Interrupts {
  /**
   * The exit code the command ends with when it was interrupted and its execution ended cancelled: 128 + the
   * signal's number (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP), or {@link STDOUT_CLOSED_EXIT}; undefined
   * while nothing interrupted it.
   */
  readonly exitCode: number | undefined;
  /** Stops watching. */
  close(): void;
}

/** Set while a command watches for interruptions: told when stdout was closed by its reader. */
let stdoutClosedListener: (() => void) | undefined;

/**
 * Tells the command that watches for interruptions, if any, that its stdout was closed by its reader (EPIPE);
 * false when none does (the caller then ends the process, as command-line tools do).
 */
export function notifyStdoutClosed(): boolean {
  if (stdoutClosedListener === undefined) return false;
  stdoutClosedListener();
  return true;
}

/**
 * Turns Ctrl-C (SIGINT), SIGTERM, SIGHUP and a closed stdout into a cancellation of the command's execution,
 * through the same path as any other cancel: the runtimes get `Cancel`, the execution ends `cancelled` and is
 * recorded so, the command prints the outcome (as JSON with --json) and exits 128 + the signal's number. A second
 * signal ends the process at once. Use it in every command that runs an execution (`run`, `resume`, `rerun`).
 *
 * The listeners stay registered until `close` (not `once`) because a library that kills child processes on
 * exit (signal-exit, under execa) re-raises a signal that it sees no other listener for, which would kill the
 * process before the cancellation is recorded.
 */
export function createInterrupts(options: InterruptsOptions): Interrupts {
  const source = options.source ?? (process as unknown as InterruptSource);
  let exitCode: number | undefined;
  let interrupted = false;
  const interrupt = (reason: string, code: number) => {
    exitCode = code;
    if (interrupted) return;
    interrupted = true;
    options.onInterrupt(reason);
  };
  const listeners = INTERRUPT_SIGNALS.map((signal) => {
    const listener = () => {
      const code = 128 + constants.signals[signal];
      if (interrupted) {
        options.stderr.write(
          `conductor: ${signal} again: exiting at once without waiting for the cancellation; the execution is recorded as cancelled\n`,
        );
        try {
          options.onForcedExit?.(
            `cancelled by ${signal} twice: the command exited without waiting for its nodes`,
          );
        } finally {
          source.exit(code);
        }
        return;
      }
      options.stderr.write(
        `conductor: ${signal}: cancelling the execution (${signal === "SIGINT" ? "Ctrl-C" : `${signal}`} again exits at once)\n`,
      );
      interrupt(`cancelled by ${signal}${signal === "SIGINT" ? " (Ctrl-C)" : ""}`, code);
    };
    source.on(signal, listener);
    return [signal, listener] as const;
  });
  const previous = stdoutClosedListener;
  stdoutClosedListener = () => {
    if (interrupted) return;
    options.stderr.write("conductor: stdout was closed by its reader: cancelling the execution\n");
    interrupt("cancelled: stdout was closed by its reader", STDOUT_CLOSED_EXIT);
  };
  return {
    get exitCode() {
      return exitCode;
    },
    close: () => {
      for (const [signal, listener] of listeners) source.off(signal, listener);
      stdoutClosedListener = previous;
    },
  };
}
