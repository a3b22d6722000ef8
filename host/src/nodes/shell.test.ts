import { mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createShell } from "./shell.js";
import { outputsOf, runNode, runtimeFor, startNode } from "./testing/run-node.js";

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls until `read` gives a value, for at most five seconds. */
async function waitFor<T>(read: () => T | undefined): Promise<T> {
  const deadline = performance.now() + 5_000;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error("expected a value within 5 s, found none");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("createShell()", () => {
  const shell = createShell({ access: "project" });
  let directory: string;

  beforeAll(async () => {
    directory = await realpath(await mkdtemp(join(tmpdir(), "conductor-shell-")));
  });

  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it("captures stdout with the args input appended to the command", async () => {
    const run = await runNode(shell, {
      config: { command: ["echo", "hello"] },
      inputs: { args: ["big", "world"] },
    });
    expect(outputsOf(run)).toEqual({ stdout: "hello big world", stderr: "", exitCode: 0 });
  });

  it("passes arguments without a shell, so nothing in them is interpreted", async () => {
    const run = await runNode(shell, { config: { command: ["echo", "$HOME; rm -rf *", "`id`"] } });
    expect(outputsOf(run).stdout).toBe("$HOME; rm -rf * `id`");
  });

  it("writes the stdin input to the program", async () => {
    const run = await runNode(shell, {
      config: { command: ["cat"] },
      inputs: { stdin: "line one\nline two\n" },
    });
    expect(outputsOf(run).stdout).toBe("line one\nline two");
  });

  it("gives the program an empty stdin without the stdin input", async () => {
    const run = await runNode(shell, { config: { command: ["cat"] } });
    expect(outputsOf(run)).toEqual({ stdout: "", stderr: "", exitCode: 0 });
  });

  it("runs in the configured directory with added environment variables", async () => {
    const run = await runNode(shell, {
      config: {
        command: ["sh", "-c", 'echo "$GREETING from $(pwd)"'],
        cwd: directory,
        env: { GREETING: "hi" },
      },
    });
    expect(outputsOf(run).stdout).toBe(`hi from ${directory}`);
  });

  it("fails without retry on a non-zero exit code, with the exit code and the end of stderr", async () => {
    const run = await runNode(shell, {
      config: { command: ["sh", "-c", "echo working; echo disk full >&2; exit 3"] },
    });
    expect(run.failure).toMatchObject({
      type: "shell.exit-code",
      retryable: false,
      message: 'command "sh" exited with code 3, expected 0: disk full',
      details: { exitCode: 3, stderr: "disk full" },
    });
  });

  it("gives the exit code as an output when failOnExitCode is off", async () => {
    const run = await runNode(shell, { config: { command: ["sh", "-c", "exit 3"], failOnExitCode: false } });
    expect(outputsOf(run)).toEqual({ stdout: "", stderr: "", exitCode: 3 });
  });

  it("fails without retry on a program that does not exist", async () => {
    const run = await runNode(shell, { config: { command: ["conductor-no-such-program"] } });
    expect(run.failure).toMatchObject({ type: "shell.spawn", retryable: false, details: { code: "ENOENT" } });
    expect(run.failure?.message).toMatch(/^command "conductor-no-such-program" could not start: .*ENOENT/);
  });

  it("streams stdout lines as chunks while the program runs, and still outputs all of stdout", async () => {
    const run = await runNode(shell, {
      config: { command: ["sh", "-c", "echo one; echo two"], stream: true },
    });
    expect(run.chunks).toEqual([
      { port: "stdout", value: "one" },
      { port: "stdout", value: "two" },
    ]);
    expect(run.events).toEqual(["started", "chunk", "chunk", "completed"]);
    expect(outputsOf(run).stdout).toBe("one\ntwo");
  });

  it("kills the program when cancelled", async () => {
    const started = startNode(shell, {
      config: { command: ["sh", "-c", "echo $$; exec sleep 60"], stream: true },
    });
    // The shell prints its pid, then exec turns it into sleep with the same pid.
    const pid = Number(await waitFor(() => started.run.chunks[0]?.value));
    expect(isAlive(pid)).toBe(true);
    started.control.cancel("user asked");
    // The program sleeps a minute, past the test's time limit: the run ends only because the cancel killed it.
    const run = await started.done;
    expect(run.events).toEqual(["started", "chunk", "cancelled"]);
    expect(run.cancelled).toBe("user asked");
    expect(isAlive(pid)).toBe(false);
  });

  it("fails with a retryable timeout when the program runs past timeoutMs", async () => {
    // The program sleeps a minute, past the test's time limit: the run ends only because the timeout killed it.
    const run = await runNode(shell, { config: { command: ["sleep", "60"], timeoutMs: 100 } });
    expect(run.failure).toMatchObject({
      type: "shell.timeout",
      retryable: true,
      message: 'command "sleep" timed out after 100 ms',
    });
  });

  it("fails without retry when the program is killed by a signal", async () => {
    const run = await runNode(shell, { config: { command: ["sh", "-c", "kill -KILL $$"] } });
    expect(run.failure).toMatchObject({
      type: "shell.signal",
      retryable: false,
      message: 'command "sh" was killed by signal SIGKILL',
    });
  });

  it("rejects an empty command in its config", () => {
    const diagnostics = runtimeFor(shell).validateConfig("core.shell", { command: [] });
    expect(diagnostics.map((d) => [d.path, d.message])).toEqual([
      ["command", 'config "command": expected at least the program to run, found array (0 items)'],
    ]);
  });

  it("refuses an input argument that starts with a dash, so an input cannot pass the program an option", async () => {
    const marker = join(directory, "ran");
    const run = await runNode(shell, {
      config: { command: ["find", directory, "-maxdepth", "0"] },
      inputs: { args: ["-exec", "touch", marker, ";"] },
    });
    expect(run.failure).toMatchObject({
      type: "shell.option-argument",
      retryable: false,
      message:
        'input args[0] "-exec" starts with "-", so command "find" could take it as an option; set allowOptionArgs: true in the node\'s config if its inputs may pass options',
    });
    await expect(realpath(marker)).rejects.toThrow(/ENOENT/);
  });

  it("passes input arguments that start with a dash when the config allows options", async () => {
    const run = await runNode(shell, {
      config: { command: ["echo"], allowOptionArgs: true },
      inputs: { args: ["-n", "--", "-x"] },
    });
    expect(outputsOf(run).stdout).toBe("-- -x");
  });

  it("does not guard the configured command itself, only the inputs", async () => {
    const run = await runNode(shell, { config: { command: ["echo", "-n", "-x"] }, inputs: { args: ["y"] } });
    expect(outputsOf(run).stdout).toBe("-x y");
  });

  it("fails every run when the project turned it off", async () => {
    const off = createShell({ access: "none" });
    const run = await runNode(off, { config: { command: ["echo", "hi"] } });
    expect(run.failure).toMatchObject({
      type: "shell.not-allowed",
      retryable: false,
      message:
        'core.shell is turned off in this project (access.shell is "none" in conductor.yaml); ask its owner to allow it',
    });
  });
});
