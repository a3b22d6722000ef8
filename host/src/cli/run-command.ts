import { readFile } from "node:fs/promises";
import { styleText } from "node:util";
import { parse } from "yaml";
import { ConductorError } from "../errors.js";
import type { ExecutionEvent } from "../scheduler/execution-events.js";
import { type CommandContext, EXIT, parseCommandArgs, reportError } from "./command.js";
import { formatForPeople, toJsonSafe } from "./format-value.js";
import { openConductor } from "./open-conductor.js";
import { createProgressView, formatMs } from "./progress-view.js";

/** `conductor run <blueprint>`: runs it, shows progress, prints the outputs. */
export default async function run(context: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(context, {
    allowPositionals: true,
    options: {
      input: { type: "string", short: "i", multiple: true },
      inputs: { type: "string" },
      json: { type: "boolean" },
      events: { type: "boolean" },
      quiet: { type: "boolean" },
      verbose: { type: "boolean" },
      project: { type: "string" },
    },
  });
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const json = values.json === true;
  if (positionals.length !== 1) {
    context.stderr.write("conductor run: expected one blueprint file, e.g. `conductor run flow.yaml`\n");
    return EXIT.usage;
  }
  const blueprintPath = positionals[0]!;

  let inputs: Record<string, unknown>;
  try {
    inputs = await readInputs(values.inputs, values.input ?? []);
  } catch (error) {
    return reportError(context, error, json);
  }

  const conductor = await openConductor({
    project: values.project,
    blueprint: blueprintPath,
    stderr: context.stderr,
    verbose: values.verbose === true,
  });
  const abort = new AbortController();
  const onSignal = () => abort.abort("cancelled by the user (SIGINT)");
  process.once("SIGINT", onSignal);
  try {
    const prepared = await conductor.prepare(blueprintPath);
    const nodeIds = prepared.graph.nodes.map((node) => node.id);
    const runtimes = Object.fromEntries(prepared.graph.nodes.map((node) => [node.id, node.runtime]));
    const view =
      json || values.quiet === true ? undefined : createProgressView(context.stderr, nodeIds, runtimes);
    const onEvent = (event: ExecutionEvent) => {
      view?.onEvent(event);
      if (json && values.events === true) context.stdout.write(`${JSON.stringify(toJsonSafe(event))}\n`);
    };
    const result = await prepared.run(inputs, { onEvent, signal: abort.signal });
    view?.close();

    if (json) {
      const nodes = Object.fromEntries(
        Object.entries(result.nodes).map(([id, record]) => [
          id,
          {
            status: record.status,
            runtime: record.runtime,
            attempt: record.attempt,
            ...(record.durationMs === undefined ? {} : { durationMs: record.durationMs }),
            ...(record.failure === undefined ? {} : { failure: record.failure }),
          },
        ]),
      );
      context.stdout.write(
        `${JSON.stringify(
          {
            executionId: result.executionId,
            blueprintId: result.blueprintId,
            status: result.status,
            durationMs: result.durationMs,
            outputs: toJsonSafe(result.outputs),
            ...(result.failure === undefined ? {} : { failure: result.failure }),
            nodes,
          },
          null,
          2,
        )}\n`,
      );
    } else {
      for (const [name, value] of Object.entries(result.outputs)) {
        const text = formatForPeople(value);
        if (values.quiet === true) context.stdout.write(`${text}\n`);
        else
          context.stdout.write(
            `${styleText("bold", `${name}:`)}${text.includes("\n") ? "\n" : " "}${text}\n`,
          );
      }
      if (values.quiet !== true) {
        const summary = `${result.status} in ${formatMs(result.durationMs)}`;
        context.stderr.write(
          `${result.status === "completed" ? styleText("green", summary) : styleText("red", summary)}\n`,
        );
      }
      if (result.failure !== undefined) {
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
  } catch (error) {
    return reportError(context, error, json);
  } finally {
    process.off("SIGINT", onSignal);
    await conductor.close();
  }
}

async function readInputs(file: string | undefined, pairs: string[]): Promise<Record<string, unknown>> {
  const inputs: Record<string, unknown> = {};
  if (file !== undefined) {
    let data: unknown;
    try {
      data = parse(await readFile(file, "utf8"));
    } catch (error) {
      throw new ConductorError(
        "inputs_invalid",
        `cannot read inputs file ${file}: ${(error as Error).message}`,
      );
    }
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      throw new ConductorError(
        "inputs_invalid",
        `inputs file ${file} must hold an object of input names to values`,
      );
    }
    Object.assign(inputs, data);
  }
  for (const pair of pairs) {
    const equals = pair.indexOf("=");
    if (equals <= 0) {
      throw new ConductorError("inputs_invalid", `--input "${pair}" is not name=value, e.g. --input count=3`);
    }
    const text = pair.slice(equals + 1);
    let value: unknown = text;
    try {
      value = JSON.parse(text);
    } catch {
      value = text;
    }
    inputs[pair.slice(0, equals)] = value;
  }
  return inputs;
}
