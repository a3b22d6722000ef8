import { styleText } from "node:util";
import { stringifyJson } from "@conductor/sdk/protocol";
import type { ExecutionResult } from "../scheduler/execution.js";
import type { ExecutionEvent } from "../scheduler/execution-events.js";
import { type CommandContext, EXIT } from "./command.js";
import { formatForPeople, toJsonSafe } from "./format-value.js";
import type { Interrupts } from "./interrupts.js";
import { createProgressView, formatMs } from "./progress-view.js";

/** Shows an execution's progress while it runs: a live view, JSON event lines (`--json --events`), or nothing. */
export function watchExecution(
  context: CommandContext,
  nodes: readonly { id: string; runtime: string; role: string }[],
  options: { json: boolean; quiet: boolean; events: boolean },
): { onEvent: (event: ExecutionEvent) => void; close(): void } {
  const steps = nodes.filter((node) => node.role === "step");
  const view =
    options.json || options.quiet
      ? undefined
      : createProgressView(
          context.stderr,
          steps.map((node) => node.id),
          Object.fromEntries(steps.map((node) => [node.id, node.runtime])),
        );
  return {
    onEvent: (event) => {
      view?.onEvent(event);
      if (options.json && options.events) context.stdout.write(`${stringifyJson(toJsonSafe(event))}\n`);
    },
    close: () => view?.close(),
  };
}

/**
 * Prints an execution's result (outputs for people, or the whole result as JSON); gives the exit code. `logged`:
 * the JSON log on stderr has said how it ended, so stderr gets no summary in text.
 */
export function printResult(
  context: CommandContext,
  result: ExecutionResult,
  options: { json: boolean; quiet: boolean; logged?: boolean },
): number {
  if (options.json) {
    const nodes = Object.fromEntries(
      Object.entries(result.nodes).map(([id, record]) => [
        id,
        {
          status: record.status,
          runtime: record.runtime,
          attempt: record.attempt,
          ...(record.durationMs === undefined ? {} : { durationMs: record.durationMs }),
          ...(record.failure === undefined ? {} : { failure: toJsonSafe(record.failure) }),
        },
      ]),
    );
    const body = {
      executionId: result.executionId,
      blueprintId: result.blueprintId,
      status: result.status,
      durationMs: result.durationMs,
      outputs: toJsonSafe(result.outputs),
      ...(result.failure === undefined ? {} : { failure: toJsonSafe(result.failure) }),
      ...(result.handledFailures.length === 0 ? {} : { handledFailures: toJsonSafe(result.handledFailures) }),
      ...(result.compensations.length === 0 ? {} : { compensations: toJsonSafe(result.compensations) }),
      nodes,
    };
    // Integers beyond 2^53 - 1 are bigint here: written as JSON numbers with every digit.
    context.stdout.write(`${stringifyJson(body, 2)}\n`);
  } else {
    for (const [name, value] of Object.entries(result.outputs)) {
      const text = formatForPeople(value);
      if (options.quiet) context.stdout.write(`${text}\n`);
      else
        context.stdout.write(`${styleText("bold", `${name}:`)}${text.includes("\n") ? "\n" : " "}${text}\n`);
    }
    if (!options.quiet && options.logged !== true) {
      const summary = `${result.status} in ${formatMs(result.durationMs)} (execution ${result.executionId})`;
      context.stderr.write(
        `${result.status === "completed" ? styleText("green", summary) : styleText("red", summary)}\n`,
      );
      for (const compensation of result.compensations) {
        context.stderr.write(
          `compensation "${compensation.nodeId}" for "${compensation.compensates}": ${compensation.status}\n`,
        );
      }
    }
    if (result.failure !== undefined && result.status === "failed" && options.logged !== true) {
      context.stderr.write(
        `node "${result.failure.nodeId}" failed (${result.failure.type}${result.failure.retryable ? ", retryable" : ""}): ${result.failure.message}\n`,
      );
    }
  }
  return result.status === "completed"
    ? EXIT.ok
    : result.status === "cancelled"
      ? EXIT.cancelled
      : EXIT.failed;
}

/**
 * The exit code of a command that ran an execution: `printed` (what {@link printResult} gave), except that an
 * execution cancelled because the command was interrupted exits with the interruption's code (130 for Ctrl-C,
 * 143 for SIGTERM, …).
 */
export function exitCodeAfter(printed: number, result: ExecutionResult, interrupts: Interrupts): number {
  return result.status === "cancelled" && interrupts.exitCode !== undefined ? interrupts.exitCode : printed;
}
