import { resolve } from "node:path";
import { installNodeTracing, type NodeTracing, otlpTracesConfigured } from "@conductor/sdk/telemetry";
import { startWorker } from "../distributed/worker.js";
import { findProject } from "../project/project-config.js";
import { type CommandContext, EXIT, parseCommandArgs, reportError } from "./command.js";

/**
 * `conductor worker`: serves the project's runtimes (all, or --runtimes) to schedulers on other machines through
 * Redis: it starts them as a host does, takes node invocations from their queues, and gives back their events and
 * outputs. SIGINT or SIGTERM stops it gracefully: no new work, running nodes finish, runtimes stop.
 */
export default async function worker(context: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(context, {
    options: {
      redis: { type: "string" },
      project: { type: "string" },
      runtimes: { type: "string" },
      labels: { type: "string" },
      id: { type: "string" },
      concurrency: { type: "string" },
      "lock-ms": { type: "string" },
      "in-process": { type: "boolean" },
      verbose: { type: "boolean" },
    },
  });
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  const redis = values.redis ?? process.env.CONDUCTOR_REDIS;
  if (redis === undefined || redis === "") {
    context.stderr.write(
      "conductor worker: --redis <url> (or CONDUCTOR_REDIS) is required, e.g. --redis redis://127.0.0.1:6379\n",
    );
    return EXIT.usage;
  }
  const number = (name: "concurrency" | "lock-ms"): number | undefined | string => {
    const text = values[name];
    if (text === undefined) return undefined;
    const value = Number(text);
    return Number.isInteger(value) && value > 0
      ? value
      : `--${name} must be a positive integer, got "${text}"`;
  };
  const concurrency = number("concurrency");
  const lockMs = number("lock-ms");
  for (const problem of [concurrency, lockMs]) {
    if (typeof problem === "string") {
      context.stderr.write(`conductor worker: ${problem}\n`);
      return EXIT.usage;
    }
  }
  const list = (text: string | undefined) =>
    text
      ?.split(",")
      .map((item) => item.trim())
      .filter((item) => item !== "");
  const notice = (message: string) => context.stderr.write(`conductor worker: ${message}\n`);
  try {
    const project = await findProject(resolve(values.project ?? process.cwd()));
    process.chdir(project.dir);
    const runtimes = list(values.runtimes);
    const labels = list(values.labels);
    // Node nodes that run in this process make their spans here: as a sidecar does, the worker exports them when
    // the OTEL_* environment asks for it, each under the host's span of its node attempt (docs/telemetry.md).
    let tracing: NodeTracing | undefined;
    if (values["in-process"] === true && otlpTracesConfigured(process.env)) {
      tracing = await installNodeTracing({ serviceName: "conductor-worker" }).catch((error: unknown) => {
        notice(`OpenTelemetry tracing is off: ${(error as Error).message}`);
        return undefined;
      });
    }
    const running = await startWorker({
      project,
      redis,
      ...(runtimes === undefined ? {} : { runtimes }),
      ...(labels === undefined ? {} : { labels }),
      ...(values.id === undefined ? {} : { id: values.id }),
      ...(typeof concurrency === "number" ? { concurrency } : {}),
      ...(typeof lockMs === "number" ? { lockDurationMs: lockMs } : {}),
      ...(values["in-process"] === true ? { inProcess: true } : {}),
      onNotice: notice,
      ...(values.verbose === true
        ? {
            onRuntimeStderr: (runtime: string, line: string) =>
              context.stderr.write(`[${runtime}] ${line}\n`),
          }
        : {}),
    });
    await new Promise<void>((done) => {
      const stop = () => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        notice(`worker ${running.id} stopping: running nodes finish, no new work is taken`);
        done();
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
    await running.close();
    await tracing?.shutdown();
    return EXIT.ok;
  } catch (error) {
    return reportError(context, error, false);
  }
}
