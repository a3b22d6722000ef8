import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ABI_VERSIONS, ENV, RUNTIME_COOKIE } from "@conductor/sdk/protocol";

/** How to start the runtime program under test. */
export interface ProgramOptions {
  /** The program and its arguments, e.g. `["python", "-m", "conductor_runtime", "--module", "m"]`. */
  command: readonly string[];
  /** Its working directory. Default: the current one. */
  cwd?: string;
  /** Extra environment variables, on top of the kit's own environment (as the host passes `env:`). */
  env?: Readonly<Record<string, string>>;
  /** `CONDUCTOR_RUNTIME_NAME`. Default `kit`. */
  runtimeName?: string;
  /** `CONDUCTOR_INLINE_LIMIT`. Default 65536, so that the blob checks stay small. */
  inlineLimit?: number;
  /** Where the socket and blob directories are made (and removed). Default: the system's temporary directory. */
  workDir?: string;
}

/** How a program ended: its exit code, or the signal that ended it. */
export interface ProgramExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the program could not be started at all (e.g. the command does not exist). */
  error?: string;
}

/** A started runtime program, seen from outside as the host sees it: its stdout, stderr and exit. */
export interface ProgramUnderTest {
  readonly pid: number;
  readonly name: string;
  readonly socketDir: string;
  readonly blobDir: string;
  readonly token: string;
  /** The variables of docs/protocol.md §1.1 it was given. */
  readonly abiEnv: Readonly<Record<string, string>>;
  /** Everything it wrote to stdout so far (capped). */
  stdout(): string;
  /** The last lines it wrote to stderr. */
  stderrTail(): string[];
  /** Resolves with its first complete stdout line, or with its exit when it ends first. */
  firstLine(timeoutMs: number): Promise<string | ProgramExit | undefined>;
  readonly exited: Promise<ProgramExit>;
  /** Its exit, or undefined when it is still running after `timeoutMs`. */
  waitForExit(timeoutMs: number): Promise<ProgramExit | undefined>;
  closeStdin(): void;
  signal(signal: NodeJS.Signals): void;
  /** Closes stdin, waits a little, kills what is left and removes the socket and blob directories. */
  stop(): Promise<void>;
}

const STDOUT_KEPT = 64 * 1024;
const STDERR_LINES_KEPT = 40;

/**
 * Starts a runtime program exactly as the host does (docs/protocol.md §1.1): a fresh socket directory of mode 0700,
 * a random token, the cookie, the ABI versions, a blob directory, stdin a pipe kept open. `omit` and `override`
 * change the environment for the checks of what a runtime does when started wrongly.
 */
export async function startProgram(
  options: ProgramOptions,
  variant: {
    omit?: readonly string[];
    override?: Readonly<Record<string, string>>;
    prepare?: (socketDir: string) => Promise<void>;
  } = {},
): Promise<ProgramUnderTest> {
  const [command, ...args] = options.command;
  if (command === undefined) throw new TypeError("runConformance: `command` names no program");
  // mkdtemp creates the directory with mode 0700; short names, because a socket path is limited to 108 bytes.
  const socketDir = await mkdtemp(join(options.workDir ?? tmpdir(), "cdk-"));
  const blobDir = await mkdtemp(join(options.workDir ?? tmpdir(), "cdk-blobs-"));
  const name = options.runtimeName ?? "kit";
  const token = randomBytes(16).toString("hex");
  const abiEnv: Record<string, string> = {
    [ENV.cookie]: RUNTIME_COOKIE,
    [ENV.abiVersions]: ABI_VERSIONS.join(","),
    [ENV.socketDir]: socketDir,
    [ENV.token]: token,
    [ENV.runtimeName]: name,
    [ENV.blobDir]: blobDir,
    [ENV.inlineLimit]: String(options.inlineLimit ?? 65_536),
    [ENV.maxMessageBytes]: String(64 * 1024 * 1024),
    ...variant.override,
  };
  const env: Record<string, string | undefined> = { ...process.env, ...options.env, ...abiEnv };
  for (const key of variant.omit ?? []) {
    delete env[key];
    delete abiEnv[key];
  }
  await variant.prepare?.(socketDir);

  const child: ChildProcess = spawn(command, args, {
    cwd: options.cwd ?? process.cwd(),
    env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderrBuffered = "";
  const stderrLines: string[] = [];
  const lineWaiters: (() => void)[] = [];
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => {
    if (stdout.length < STDOUT_KEPT) stdout += chunk.slice(0, STDOUT_KEPT - stdout.length);
    for (const wake of lineWaiters.splice(0)) wake();
  });
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderrBuffered += chunk;
    const lines = stderrBuffered.split("\n");
    stderrBuffered = lines.pop() ?? "";
    stderrLines.push(...lines);
    if (stderrLines.length > STDERR_LINES_KEPT) stderrLines.splice(0, stderrLines.length - STDERR_LINES_KEPT);
  });
  // The program may die before reading stdin; a write error then is expected.
  child.stdin?.on("error", () => {});

  let exit: ProgramExit | undefined;
  const exited = new Promise<ProgramExit>((resolve) => {
    child.once("error", (error) => {
      exit = { code: null, signal: null, error: error.message };
      resolve(exit);
    });
    child.once("close", (code, signal) => {
      exit ??= { code, signal };
      resolve(exit);
    });
  });
  void exited.then(() => {
    for (const wake of lineWaiters.splice(0)) wake();
  });

  const waitForExit = (timeoutMs: number) =>
    Promise.race([
      exited,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), timeoutMs).unref()),
    ]);

  return {
    pid: child.pid ?? 0,
    name,
    socketDir,
    blobDir,
    token,
    abiEnv,
    stdout: () => stdout,
    stderrTail: () => (stderrBuffered === "" ? [...stderrLines] : [...stderrLines, stderrBuffered]),
    firstLine: (timeoutMs) =>
      new Promise((resolve) => {
        const timer = setTimeout(() => resolve(undefined), timeoutMs);
        timer.unref();
        const look = () => {
          const newline = stdout.indexOf("\n");
          if (newline >= 0) {
            clearTimeout(timer);
            resolve(stdout.slice(0, newline));
          } else if (exit !== undefined) {
            clearTimeout(timer);
            resolve(exit);
          } else lineWaiters.push(look);
        };
        look();
      }),
    exited,
    waitForExit,
    closeStdin: () => child.stdin?.end(),
    signal: (signal) => {
      if (exit === undefined) child.kill(signal);
    },
    stop: async () => {
      if (exit === undefined) {
        child.stdin?.end();
        if ((await waitForExit(2_000)) === undefined) {
          child.kill("SIGKILL");
          await exited;
        }
      }
      await Promise.all([
        rm(socketDir, { recursive: true, force: true }),
        rm(blobDir, { recursive: true, force: true }),
      ]);
    },
  };
}

/** Describes an exit for a report line, e.g. "exited with status 2" or "was killed by SIGKILL". */
export function describeProgramExit(exit: ProgramExit): string {
  if (exit.error !== undefined) return `could not be started (${exit.error})`;
  if (exit.signal !== null) return `was killed by ${exit.signal}`;
  return `exited with status ${exit.code}`;
}
