import { readFile } from "node:fs/promises";
import { parseJsonText } from "@conductor/sdk/protocol";
import { parse } from "yaml";
import type { SharedExecutions } from "../distributed/shared-executions.js";
import { ConductorError } from "../errors.js";
import {
  type ConductorMetrics,
  metricsFromEnvironment,
  otlpMetricsConfigured,
} from "../telemetry/conductor-metrics.js";
import { logSettingsOf } from "../telemetry/log-settings.js";
import { EXACT_INTEGERS, safeIntegersAsNumbers } from "../yaml-integers.js";
import { type CommandContext, EXIT, exitCodeOf, parseCommandArgs, reportError } from "./command.js";
import { exitCodeAfter, printResult, watchExecution } from "./execution-output.js";
import { createInterrupts } from "./interrupts.js";
import { openConductor, openHostLog } from "./open-conductor.js";

/** `conductor run <blueprint>`: runs it (journaled), shows progress, prints the outputs. */
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
      redis: { type: "string" },
      remote: { type: "string" },
      queue: { type: "boolean" },
      "no-cache": { type: "boolean" },
      "no-journal": { type: "boolean" },
      "log-format": { type: "string" },
      "log-level": { type: "string" },
    },
  });
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const json = values.json === true;
  const quiet = values.quiet === true;
  if (positionals.length !== 1) {
    context.stderr.write("conductor run: expected one blueprint file, e.g. `conductor run flow.yaml`\n");
    return EXIT.usage;
  }
  const blueprintPath = positionals[0]!;
  const redisUrl = values.redis ?? process.env.CONDUCTOR_REDIS;
  if (values.queue === true && (redisUrl === undefined || redisUrl === "")) {
    context.stderr.write(
      "conductor run: --queue sends the execution to the schedulers sharing a Redis; give it with --redis <url> (or CONDUCTOR_REDIS)\n",
    );
    return EXIT.usage;
  }

  const logSettings = logSettingsOf({
    format: values["log-format"],
    level: values["log-level"] ?? (values.verbose === true ? "debug" : undefined),
  });
  if ("problem" in logSettings) {
    context.stderr.write(`conductor run: ${logSettings.problem}\n`);
    return EXIT.usage;
  }
  const log = await openHostLog(logSettings, context.stderr);
  // With the JSON log (and no --json result), an error that ends the command is a JSON line too.
  const fail = (error: unknown): number => {
    if (log === undefined || json) return reportError(context, error, json);
    log.error(error instanceof Error ? error.message : String(error), {
      code: error instanceof ConductorError ? error.code : "internal",
      ...(error instanceof ConductorError && error.diagnostics.length > 0
        ? { diagnostics: error.diagnostics }
        : {}),
    });
    return exitCodeOf(error);
  };

  let inputs: Record<string, unknown>;
  try {
    inputs = await readInputs(values.inputs, values.input ?? []);
  } catch (error) {
    return fail(error);
  }

  // Ctrl-C, SIGTERM, SIGHUP or a closed stdout cancel the execution the normal way: it ends cancelled, and is
  // recorded and printed so. Watched from before the project opens, because opening starts the runtimes, which can
  // take a while: a Ctrl-C then still ends in a cancelled execution rather than a host killed by the signal.
  const abort = new AbortController();
  let opened: Awaited<ReturnType<typeof openConductor>> | undefined;
  const interrupts = createInterrupts({
    stderr: context.stderr,
    onInterrupt: (reason) => abort.abort(reason),
    onForcedExit: (reason) => opened?.abandon(reason),
  });
  let conductor: Awaited<ReturnType<typeof openConductor>>;
  // OTLP metrics when the OTEL_* environment asks for them (docs/telemetry.md), pushed before the command exits.
  let metrics: ConductorMetrics | undefined;
  try {
    if (otlpMetricsConfigured()) metrics = await metricsFromEnvironment();
    conductor = await openConductor({
      ...(metrics === undefined ? {} : { metrics }),
      project: values.project,
      blueprint: blueprintPath,
      stderr: context.stderr,
      oneShot: true,
      verbose: values.verbose === true,
      redis: values.redis,
      remote: values.remote,
      journal: values["no-journal"] !== true,
      log,
    });
  } catch (error) {
    interrupts.close();
    return fail(error);
  }
  opened = conductor;
  // --queue: one of the schedulers sharing the Redis takes the execution; this process follows its events.
  let shared: SharedExecutions | undefined;
  try {
    if (values.queue === true) {
      const { startSharedExecutions } = await import("../distributed/shared-executions.js");
      shared = await startSharedExecutions({ redis: redisUrl!, conductor, capacity: 0 });
    }
    const prepared = await (shared?.conductor ?? conductor).prepare(blueprintPath);
    // With the JSON log on stderr, the live view (also on stderr) stays off.
    const watch = watchExecution(context, prepared.graph.nodes, {
      json,
      quiet: quiet || log !== undefined,
      events: values.events === true,
    });
    // A TRACEPARENT in the environment (a CI job's, a shell's) parents the execution's span (docs/telemetry.md).
    const traceparent = process.env.TRACEPARENT;
    const result = await prepared.run(inputs, {
      onEvent: watch.onEvent,
      signal: abort.signal,
      noCache: values["no-cache"] === true,
      ...(traceparent === undefined || traceparent === "" ? {} : { traceparent }),
    });
    watch.close();
    return exitCodeAfter(
      printResult(context, result, { json, quiet, logged: log !== undefined }),
      result,
      interrupts,
    );
  } catch (error) {
    return fail(error);
  } finally {
    await shared?.close();
    await conductor.close();
    await metrics
      ?.shutdown()
      .catch((error: Error) =>
        context.stderr.write(`warning: the OTLP metrics could not be exported: ${error.message}\n`),
      );
    // Only now: a second signal while the runtimes stop still ends the process at once.
    interrupts.close();
  }
}

/** The inputs of `--inputs <file>` and `--input name=value` (also used by `conductor dev`). */
export async function readInputs(
  file: string | undefined,
  pairs: string[],
): Promise<Record<string, unknown>> {
  const inputs: Record<string, unknown> = {};
  if (file !== undefined) {
    let data: unknown;
    try {
      data = parse(await readFile(file, "utf8"), safeIntegersAsNumbers, EXACT_INTEGERS);
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
      value = parseJsonText(text);
    } catch {
      value = text;
    }
    inputs[pair.slice(0, equals)] = value;
  }
  return inputs;
}
