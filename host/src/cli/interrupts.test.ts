import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import {
  createInterrupts,
  type InterruptSource,
  notifyStdoutClosed,
  STDOUT_CLOSED_EXIT,
} from "./interrupts.js";

/** A stand-in for the process: signals are emitted by the test, exits are recorded. */
function fakeProcess() {
  const emitter = new EventEmitter();
  const exits: number[] = [];
  const source = Object.assign(emitter, {
    exit: (code: number) => {
      exits.push(code);
      return undefined as never;
    },
  }) as unknown as InterruptSource & EventEmitter;
  return { source, emitter, exits };
}

function fakeStderr() {
  const lines: string[] = [];
  return { stream: { write: (text: string) => lines.push(text) } as unknown as NodeJS.WritableStream, lines };
}

describe("createInterrupts()", () => {
  it("cancels once on the first signal, with its exit code, and exits at once on the second", () => {
    const { source, emitter, exits } = fakeProcess();
    const stderr = fakeStderr();
    const reasons: string[] = [];
    const forced: string[] = [];
    const interrupts = createInterrupts({
      stderr: stderr.stream,
      onInterrupt: (reason) => reasons.push(reason),
      onForcedExit: (reason) => forced.push(reason),
      source,
    });
    expect(interrupts.exitCode).toBeUndefined();
    emitter.emit("SIGTERM");
    expect(reasons).toEqual(["cancelled by SIGTERM"]);
    expect(interrupts.exitCode).toBe(143);
    expect(exits).toEqual([]);
    emitter.emit("SIGINT");
    expect(reasons).toEqual(["cancelled by SIGTERM"]);
    expect(exits).toEqual([130]);
    expect(forced).toEqual(["cancelled by SIGINT twice: the command exited without waiting for its nodes"]);
    expect(stderr.lines).toEqual([
      "conductor: SIGTERM: cancelling the execution (SIGTERM again exits at once)\n",
      "conductor: SIGINT again: exiting at once without waiting for the cancellation; the execution is recorded as cancelled\n",
    ]);
    interrupts.close();
    expect(emitter.listenerCount("SIGINT")).toBe(0);
  });

  it("takes SIGHUP (a closed terminal) too, and keeps listening until closed, so a library re-raising unhandled signals sees a listener", () => {
    const { source, emitter } = fakeProcess();
    const interrupts = createInterrupts({ stderr: fakeStderr().stream, onInterrupt: () => {}, source });
    emitter.emit("SIGHUP");
    expect(interrupts.exitCode).toBe(129);
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) expect(emitter.listenerCount(signal)).toBe(1);
    interrupts.close();
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) expect(emitter.listenerCount(signal)).toBe(0);
  });

  it("cancels when stdout is closed by its reader, with the SIGPIPE exit code, while it watches", () => {
    const { source } = fakeProcess();
    const reasons: string[] = [];
    expect(notifyStdoutClosed()).toBe(false);
    const interrupts = createInterrupts({
      stderr: fakeStderr().stream,
      onInterrupt: (reason) => reasons.push(reason),
      source,
    });
    expect(notifyStdoutClosed()).toBe(true);
    expect(notifyStdoutClosed()).toBe(true);
    expect(reasons).toEqual(["cancelled: stdout was closed by its reader"]);
    expect(interrupts.exitCode).toBe(STDOUT_CLOSED_EXIT);
    expect(STDOUT_CLOSED_EXIT).toBe(141);
    interrupts.close();
    expect(notifyStdoutClosed()).toBe(false);
  });
});
