import type { ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { ABI_VERSIONS, ENV, RUNTIME_COOKIE } from "@conductor/sdk/protocol";
import { ConductorError } from "../errors.js";
import { readOutputLines } from "./output-lines.js";
import { sweepStaleDirectories } from "./stale-directories.js";

/** How to start a runtime process: the command the project configured, already resolved. */
export interface RuntimeLaunch {
  command: string;
  args: readonly string[];
  cwd?: string;
  env?: Record<string, string>;
}

/** Settings the host passes to every runtime it starts. */
export interface ProcessSettings {
  blobDir: string;
  inlineLimit: number;
  maxMessageBytes: number;
  /** How long to wait for the handshake line. */
  startTimeoutMs: number;
  /** Called with each line the runtime writes to stderr. */
  onStderrLine?: (line: string) => void;
  /**
   * Called with each line the runtime writes to stdout after its handshake line. Stdout is reserved for that line
   * (docs/protocol.md, section 1.2), so such output is a runtime's mistake, passed on rather than lost.
   */
  onStdoutLine?: (line: string) => void;
  /** The longest output line passed on whole, in bytes (see `readOutputLines`). Default 16 KiB. */
  maxLineBytes?: number;
}

/** How a runtime process ended. */
export interface ProcessExit {
  code: number | undefined;
  signal: string | undefined;
  /** A spawn error (e.g. the command does not exist), when there was one. */
  error: string | undefined;
}

/** A started runtime process that printed a valid handshake line. */
export interface RuntimeProcess {
  readonly pid: number;
  readonly address: string;
  readonly token: string;
  readonly abi: number;
  /** Lines the runtime printed on stdout before its handshake line (banners); reported as warnings. */
  readonly noise: readonly string[];
  readonly exited: Promise<ProcessExit>;
  /** The last lines the runtime wrote to stderr, for crash reports. */
  stderrTail(): string[];
  /** Closes stdin: a runtime exits when its stdin reaches end-of-file. */
  closeStdin(): void;
  kill(signal: NodeJS.Signals): void;
  /** Removes the socket directory; call after the process exited. */
  cleanup(): Promise<void>;
}

/**
 * The prefix of this machine's runtime socket directories in the system's temporary directory:
 * `cdr-<machine>-<host pid>-<random>`, where `<machine>` is 8 hex digits of a hash of the host name (a `/tmp` shared
 * between containers holds other machines' directories) and the pid is the host's, so that the next host can tell a
 * directory whose host died from one in use. Short, because a socket path is limited to 104-108 bytes.
 */
export const SOCKET_DIR_PREFIX = `cdr-${createHash("sha256").update(hostname()).digest("hex").slice(0, 8)}-`;

let swept: Promise<unknown> | undefined;

/**
 * Creates a runtime's socket directory (mode 0700, by mkdtemp), having first removed, once per host process, the
 * ones hosts that died (SIGKILL, a crash) left in the temporary directory.
 */
async function createSocketDirectory(): Promise<string> {
  swept ??= sweepStaleDirectories(tmpdir(), SOCKET_DIR_PREFIX);
  await swept;
  return mkdtemp(join(tmpdir(), `${SOCKET_DIR_PREFIX}${process.pid}-`));
}

/** The handshake line's fields (docs/protocol.md, section 1.2). */
interface HandshakeLine {
  conductor: number;
  abi: number;
  network: string;
  address: string;
}

const STDERR_LINES_KEPT = 40;
/**
 * How long, after the runtime exited, the host keeps reading what it wrote before it ended. Bounded because a
 * process the runtime started may hold the pipes open after the runtime itself is gone.
 */
const OUTPUT_DRAIN_MS = 2_000;

/**
 * Spawns a runtime with the ABI's environment (cookie, ABI versions, a fresh 0700 socket directory, a per-spawn
 * token) and waits for its handshake line. On failure the error quotes the exit status and the last stderr
 * lines, because that is where an interpreter or a build says what went wrong.
 */
export async function startRuntimeProcess(
  name: string,
  launch: RuntimeLaunch,
  settings: ProcessSettings,
): Promise<RuntimeProcess> {
  const { execa } = await import("execa");
  const socketDir = await createSocketDirectory();
  const token = randomBytes(16).toString("hex");
  const child = execa(launch.command, [...launch.args], {
    ...(launch.cwd === undefined ? {} : { cwd: launch.cwd }),
    env: {
      ...launch.env,
      [ENV.cookie]: RUNTIME_COOKIE,
      [ENV.abiVersions]: ABI_VERSIONS.join(","),
      [ENV.socketDir]: socketDir,
      [ENV.token]: token,
      [ENV.runtimeName]: name,
      [ENV.blobDir]: settings.blobDir,
      [ENV.inlineLimit]: String(settings.inlineLimit),
      [ENV.maxMessageBytes]: String(settings.maxMessageBytes),
    },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    buffer: false,
    reject: false,
    // Its own process group (and session), because a terminal sends Ctrl-C to its whole foreground group: the
    // runtime must live on until the host has cancelled its work through the ABI. It still dies with the host,
    // which holds its stdin (docs/protocol.md, section 1.5). (execa does not kill detached children on exit.)
    detached: true,
    forceKillAfterDelay: 5_000,
  });

  const stderrLines: string[] = [];
  const stderrRead = readOutputLines(child.stderr, {
    ...(settings.maxLineBytes === undefined ? {} : { maxLineBytes: settings.maxLineBytes }),
    onLine: (line) => {
      stderrLines.push(line);
      if (stderrLines.length > STDERR_LINES_KEPT) stderrLines.shift();
      settings.onStderrLine?.(line);
    },
  });
  // Until the handshake line, stdout lines are searched for it; after it, they are passed on.
  let onStdoutLine: (line: string) => void = () => {};
  const stdoutRead = readOutputLines(child.stdout, {
    ...(settings.maxLineBytes === undefined ? {} : { maxLineBytes: settings.maxLineBytes }),
    onLine: (line) => onStdoutLine(line),
  });
  const exited = exitAfterOutput(
    child.nodeChildProcess,
    child.then((result) => ({
      code: result.exitCode,
      signal: result.signal,
      error:
        result.failed && result.exitCode === undefined && result.signal === undefined
          ? result.shortMessage
          : undefined,
    })),
    Promise.all([stdoutRead, stderrRead]),
  );
  // Swallow EPIPE on stdin when the runtime dies first.
  child.stdin?.on("error", () => {});

  const noise: string[] = [];
  const cleanup = () => rm(socketDir, { recursive: true, force: true });
  const describeFailure = (what: string) => {
    const tail = stderrLines.slice(-10);
    return `runtime "${name}" ${what}${tail.length > 0 ? `; its last stderr lines:\n${tail.map((l) => `    ${l}`).join("\n")}` : "; it wrote nothing to stderr"}`;
  };

  let handshake: HandshakeLine;
  try {
    handshake = await new Promise<HandshakeLine>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new ConductorError(
            "runtime_start_failed",
            describeFailure(
              `printed no handshake line within ${settings.startTimeoutMs} ms (command: ${commandLine(launch)})`,
            ),
          ),
        );
      }, settings.startTimeoutMs);
      onStdoutLine = (line) => {
        const parsed = parseHandshakeLine(line);
        if (parsed === undefined) {
          if (noise.length < 20) noise.push(line);
          return;
        }
        onStdoutLine = (later) => settings.onStdoutLine?.(later);
        clearTimeout(timer);
        if (typeof parsed === "string") {
          reject(
            new ConductorError(
              "runtime_start_failed",
              `runtime "${name}" printed a bad handshake line: ${parsed}: ${line}`,
            ),
          );
        } else resolve(parsed);
      };
      void exited.then((exit) => {
        clearTimeout(timer);
        reject(
          new ConductorError(
            "runtime_start_failed",
            describeFailure(
              exit.error !== undefined
                ? `could not be started: ${exit.error} (command: ${commandLine(launch)})`
                : `exited ${describeExit(exit)} before printing its handshake line (command: ${commandLine(launch)})`,
            ),
          ),
        );
      });
    });
    if (!ABI_VERSIONS.includes(handshake.abi)) {
      throw new ConductorError(
        "abi_mismatch",
        `runtime "${name}" speaks ABI ${handshake.abi}, host expects ${ABI_VERSIONS.join(" or ")}; upgrade the runtime or the host`,
      );
    }
  } catch (error) {
    child.kill("SIGKILL");
    await exited;
    await cleanup();
    throw error;
  }

  return {
    pid: child.pid ?? 0,
    address: handshake.address,
    token,
    abi: handshake.abi,
    noise,
    exited,
    stderrTail: () => [...stderrLines],
    closeStdin: () => child.stdin?.end(),
    kill: (signal) => {
      child.kill(signal);
    },
    cleanup,
  };
}

/** Parses a stdout line: the handshake, an error message for a malformed one, or undefined for other output. */
function parseHandshakeLine(line: string): HandshakeLine | string | undefined {
  const start = line.indexOf("{");
  if (start < 0) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line.slice(start));
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || !("conductor" in parsed)) return undefined;
  const fields = parsed as Record<string, unknown>;
  if (fields.conductor !== 1) return `expected "conductor": 1, found ${JSON.stringify(fields.conductor)}`;
  if (typeof fields.abi !== "number") return `expected a number "abi", found ${JSON.stringify(fields.abi)}`;
  if (fields.network !== "unix" && fields.network !== "tcp") {
    return `expected "network": "unix" or "tcp", found ${JSON.stringify(fields.network)}`;
  }
  if (typeof fields.address !== "string" || fields.address === "") {
    return `expected a string "address", found ${JSON.stringify(fields.address)}`;
  }
  return {
    conductor: 1,
    abi: fields.abi,
    network: fields.network,
    address: fields.network === "unix" ? `unix:${fields.address}` : fields.address,
  };
}

/** Describes an exit for a message, e.g. "with code 3" or "on signal SIGKILL". */
export function describeExit(exit: ProcessExit): string {
  if (exit.signal !== undefined) return `on signal ${exit.signal}`;
  if (exit.code !== undefined) return `with code ${exit.code}`;
  return exit.error === undefined ? "" : `(${exit.error})`;
}

function commandLine(launch: RuntimeLaunch): string {
  return [launch.command, ...launch.args].join(" ");
}

/**
 * How the runtime ended, once what it wrote before it ended has been read (bounded by OUTPUT_DRAIN_MS), so that no
 * line of a runtime that prints and exits is lost. The exit itself comes from the process's exit event, because
 * execa's result also waits for the pipes, which a process the runtime started may hold open for ever.
 */
function exitAfterOutput(
  child: Pick<ChildProcess, "once">,
  byExecaResult: Promise<ProcessExit>,
  outputRead: Promise<unknown>,
): Promise<ProcessExit> {
  const byExitEvent = new Promise<ProcessExit>((resolve) => {
    child.once("exit", (code: number | null, signal: NodeJS.Signals | null) =>
      resolve({ code: code ?? undefined, signal: signal ?? undefined, error: undefined }),
    );
  }).then(async (exit) => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      outputRead,
      new Promise((resolve) => {
        timer = setTimeout(resolve, OUTPUT_DRAIN_MS);
      }),
    ]);
    clearTimeout(timer);
    return exit;
  });
  return Promise.race([byExecaResult, byExitEvent]);
}
