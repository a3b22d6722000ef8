import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../../host/bin/conductor.js", import.meta.url));

/** A `conductor serve` child process that listens. */
export interface ServeProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Sends SIGTERM unless it exited already, and resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Starts `conductor serve --port 0 --project <projectDir> ...args` as users run it (the built CLI, its defaults, no
 * token from the environment); resolves once it printed its banner, with its URL. Use it for the benchmarks that
 * measure a server in its own process.
 */
export function startServe(projectDir: string, args: string[] = []): Promise<ServeProcess> {
  const { CONDUCTOR_TOKEN: _ignored, ...env } = process.env;
  const child = spawn(process.execPath, [cli, "serve", "--port", "0", "--project", projectDir, ...args], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  };
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on (http:\/\/[^\s]+)/.exec(stdout);
      if (match !== null && stdout.includes("press Ctrl-C")) resolve({ child, url: match[1]!, stop });
    });
    child.once("exit", (code) => reject(new Error(`conductor serve exited with ${code}: ${stderr}`)));
  });
}
