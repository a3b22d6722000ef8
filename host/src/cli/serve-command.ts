import { styleText } from "node:util";
import { type ApiServer, createApiServer } from "../api/api-server.js";
import { isLoopback } from "../api/auth.js";
import { corsProblem } from "../api/cors.js";
import type { Conductor, NodeTypeEntry } from "../conductor.js";
import { listRedisWorkers } from "../distributed/distributed.js";
import type { SharedExecutions } from "../distributed/shared-executions.js";
import { ensureProjectToken, TOKEN_FILE } from "../project/project-token.js";
import { SUB_BLUEPRINT_PREFIX } from "../runtime/sub-blueprint-runtime.js";
import type { ScheduleRunner } from "../schedules/schedule-runner.js";
import { startSchedules } from "../schedules/serve-schedules.js";
import { metricsFromEnvironment } from "../telemetry/conductor-metrics.js";
import { logSettingsOf } from "../telemetry/log-settings.js";
import { type CommandContext, EXIT, parseCommandArgs, reportError } from "./command.js";
import { releaseMemory, releaseMemoryWhenIdle } from "./idle-memory.js";
import { journalPath, openConductor, openHostLog } from "./open-conductor.js";
import { startOrphanAdopter } from "./orphan-adopter.js";

/**
 * `conductor serve`: the API (gRPC, gRPC-Web, Connect), webhooks and the visual debugger on one port, with the
 * project's runtimes started up front so the first request is as fast as the rest. Every call needs a token: the
 * one given with --token or CONDUCTOR_TOKEN, else the project's (`.conductor/api-token`, made on the first start);
 * the debugger's address is printed with it. SIGINT or SIGTERM stops it gracefully: no new connections, running
 * executions cancelled, runtimes closed.
 */
export default async function serve(context: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(context, {
    options: {
      port: { type: "string", short: "p" },
      host: { type: "string" },
      token: { type: "string" },
      project: { type: "string" },
      redis: { type: "string" },
      remote: { type: "string" },
      queue: { type: "boolean" },
      "queue-capacity": { type: "string" },
      verbose: { type: "boolean" },
      "no-debugger": { type: "boolean" },
      "cors-origin": { type: "string", multiple: true },
      resume: { type: "boolean" },
      "no-resume": { type: "boolean" },
      "oidc-issuer": { type: "string" },
      "oidc-audience": { type: "string" },
      "oidc-jwks-uri": { type: "string" },
      "quota-in-flight": { type: "string" },
      "quota-starts-per-minute": { type: "string" },
      "log-format": { type: "string" },
      "log-level": { type: "string" },
    },
  });
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  const host = values.host ?? "127.0.0.1";
  const port = Number(values.port ?? "7070");
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    context.stderr.write(`conductor serve: --port must be a port number (0-65535), got "${values.port}"\n`);
    return EXIT.usage;
  }
  const givenToken = values.token ?? process.env.CONDUCTOR_TOKEN;
  const corsOrigins = values["cors-origin"] ?? [];
  const problem = corsProblem(corsOrigins);
  if (problem !== undefined) {
    context.stderr.write(`conductor serve: ${problem}\n`);
    return EXIT.usage;
  }

  const oidcIssuer = values["oidc-issuer"];
  const oidcAudience = values["oidc-audience"];
  if ((oidcIssuer === undefined) !== (oidcAudience === undefined)) {
    context.stderr.write("conductor serve: --oidc-issuer and --oidc-audience go together\n");
    return EXIT.usage;
  }
  const oidc =
    oidcIssuer === undefined || oidcAudience === undefined
      ? undefined
      : {
          issuer: oidcIssuer,
          audience: oidcAudience,
          ...(values["oidc-jwks-uri"] === undefined ? {} : { jwksUri: values["oidc-jwks-uri"] }),
        };

  const quotas: { maxInFlight?: number; maxStartsPerMinute?: number } = {};
  for (const [flag, field] of [
    ["quota-in-flight", "maxInFlight"],
    ["quota-starts-per-minute", "maxStartsPerMinute"],
  ] as const) {
    const given = values[flag];
    if (given === undefined) continue;
    const limit = Number(given);
    if (!Number.isInteger(limit) || limit < 1) {
      context.stderr.write(`conductor serve: --${flag} takes a whole number of at least 1, got "${given}"\n`);
      return EXIT.usage;
    }
    quotas[field] = limit;
  }

  const queueCapacity = Number(values["queue-capacity"] ?? "16");
  if (!Number.isInteger(queueCapacity) || queueCapacity < 0) {
    context.stderr.write(
      `conductor serve: --queue-capacity takes a whole number of executions (0: take none), got "${values["queue-capacity"]}"\n`,
    );
    return EXIT.usage;
  }

  const logSettings = logSettingsOf({
    format: values["log-format"],
    level: values["log-level"] ?? (values.verbose === true ? "debug" : undefined),
  });
  if ("problem" in logSettings) {
    context.stderr.write(`conductor serve: ${logSettings.problem}\n`);
    return EXIT.usage;
  }
  // With --log-format json, what the server says on stderr is a JSON line too (the banner stays on stdout).
  const log = await openHostLog(logSettings, context.stderr);
  const say = (message: string) =>
    log === undefined ? context.stderr.write(`conductor serve: ${message}\n`) : log.notice(message);

  let conductor: Conductor | undefined;
  let server: ApiServer | undefined;
  // Prometheus metrics on /metrics, behind the API's token, and pushed over OTLP when the OTEL_* environment asks
  // (docs/telemetry.md).
  const metrics = await metricsFromEnvironment();
  let nodeTypes: NodeTypeEntry[];
  let tokenFile: string | undefined;
  // The project's schedules (conductor.yaml `schedules`): from the journal, or shared through Redis with --redis.
  let schedules: ScheduleRunner | undefined;
  const redisUrl = values.redis ?? process.env.CONDUCTOR_REDIS;
  if (values.queue === true && (redisUrl === undefined || redisUrl === "")) {
    context.stderr.write(
      "conductor serve: --queue shares executions between the schedulers of one Redis; give it with --redis <url> (or CONDUCTOR_REDIS)\n",
    );
    return EXIT.usage;
  }
  let shared: SharedExecutions | undefined;
  try {
    conductor = await openConductor({
      project: values.project,
      stderr: context.stderr,
      verbose: values.verbose === true,
      metrics,
      redis: values.redis,
      remote: values.remote,
      log,
    });
    // Relative paths in blueprints then mean the same in host nodes as in the runtimes, which run in the project
    // directory, whatever directory the server was started from.
    process.chdir(conductor.project.dir);
    let token = givenToken;
    if (token === undefined || token === "") {
      const projectToken = await ensureProjectToken(conductor.project.dir);
      token = projectToken.token;
      tokenFile = projectToken.file;
      if (projectToken.wasReadableByOthers) {
        context.stderr.write(
          `conductor serve: ${projectToken.file} was readable by other users; it is private now, but if others may have read it, delete it and restart for a new token\n`,
        );
      }
    }
    // Starts every runtime of the project now, so no request waits for a runtime to start. One that does not
    // start is reported below and in /healthz; the server serves every blueprint that does not need it.
    nodeTypes = await conductor.nodeTypes();
    schedules = await startSchedules(conductor, {
      journal: journalPath(conductor.project.dir),
      redis: redisUrl,
      onNotice: (message) => say(message),
    });
    const runner = schedules;
    // --queue: starts received here go to the shared queue; this scheduler takes its share of them.
    if (values.queue === true) {
      const { startSharedExecutions } = await import("../distributed/shared-executions.js");
      shared = await startSharedExecutions({
        redis: redisUrl!,
        conductor,
        capacity: queueCapacity,
        onNotice: (message) => say(message),
      });
    }
    server = await createApiServer(shared?.conductor ?? conductor, {
      host,
      port,
      token,
      // Relative: the refusal goes to callers who may be on other machines, who need not learn the path.
      ...(tokenFile === undefined ? {} : { tokenHint: `it is in the project's ${TOKEN_FILE}` }),
      ...(values["no-debugger"] === true ? { debuggerDir: false as const } : {}),
      ...(corsOrigins.length === 0 ? {} : { corsOrigins }),
      metrics,
      ...(oidc === undefined ? {} : { oidc }),
      ...(Object.keys(quotas).length === 0 ? {} : { quotas }),
      ...(runner === undefined ? {} : { schedules: { mode: runner.mode, list: () => runner.list() } }),
      ...(redisUrl === undefined || redisUrl === ""
        ? {}
        : { workers: ({ all }: { all: boolean }) => listRedisWorkers(redisUrl, { all }) }),
    });
  } catch (error) {
    await schedules?.stop();
    await shared?.close();
    await conductor?.close();
    await metrics.shutdown().catch(() => {});
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
      context.stderr.write(
        `conductor serve: port ${port} on ${host} is in use; stop what uses it or pick another with --port\n`,
      );
      return EXIT.usage;
    }
    return reportError(context, error, false);
  }

  // Orphaned executions (their host died, or stopped renewing its lease) are adopted: resumed here, now and
  // whenever one turns up, unless --no-resume. (--resume, the default, is still accepted.)
  const adopting = values["no-resume"] !== true;
  const adopter = adopting
    ? startOrphanAdopter({
        conductor,
        onAdopted: (executionId, blueprintId) => {
          say(`resumed orphaned execution ${executionId} of ${blueprintId} (its owner is gone)`);
          // A shared execution this scheduler took before it stopped: its stream goes on.
          shared
            ?.adopted(executionId)
            .catch((error: Error) =>
              say(
                `could not go on with the event stream of execution ${executionId} in Redis: ${error.message}`,
              ),
            );
        },
        onError: (executionId, error) =>
          say(`could not resume orphaned execution ${executionId}: ${error.message}`),
      })
    : undefined;
  const resumed = (await adopter?.first.catch(() => 0)) ?? 0;

  // Listening for the stop signals starts before the banner that tells callers the server is up, so a signal sent
  // as soon as they read it stops the server gracefully. The listeners stay until the end (not `once`), because
  // signal-exit (under execa) re-raises a signal it sees no other listener for; a second signal stops at once.
  let signalled: NodeJS.Signals | undefined;
  let stop: (signal: NodeJS.Signals) => void = () => {};
  const stopping = new Promise<NodeJS.Signals>((resolve) => {
    stop = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled !== undefined) process.exit(EXIT.cancelled);
    signalled = signal;
    stop(signal);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const url = server.url;
  // The project's own token is printed in the debugger's address, as Jupyter does: whoever can read this terminal
  // can read the token file. A token given by the operator is not, so it stays out of logs.
  const debuggerUrl =
    tokenFile === undefined ? `${url}/  (add #token=<token>)` : `${url}/#token=${server.token}`;
  // The project's blueprints are node types too (blueprint.<id>), served by no process: said apart.
  const blueprintNodes = nodeTypes.filter((entry) => entry.nodeType.type.startsWith(SUB_BLUEPRINT_PREFIX));
  const runtimeNodes = nodeTypes.filter((entry) => !entry.nodeType.type.startsWith(SUB_BLUEPRINT_PREFIX));
  const runtimes = new Set(runtimeNodes.map((entry) => entry.runtime));
  const publicHooks = [...(conductor.project.access?.publicWebhooks ?? [])];
  context.stdout.write(
    [
      `${styleText("bold", "conductor serve")}: listening on ${url} (project ${conductor.project.dir})`,
      `  API       ${url}  (gRPC, gRPC-Web and Connect; service conductor.api.v1.ConductorService)`,
      ...(values["no-debugger"] === true ? [] : [`  debugger  ${debuggerUrl}`]),
      `  webhooks  POST ${url}/hooks/<blueprint-id>${publicHooks.length === 0 ? "" : ` (without a token: ${publicHooks.join(", ")})`}`,
      `  runtimes  ${[...runtimes].join(", ")} (${runtimeNodes.length} node types)${blueprintNodes.length === 0 ? "" : `, and ${blueprintNodes.length} blueprint${blueprintNodes.length === 1 ? "" : "s"} usable as nodes`}`,
      ...conductor
        .runtimeHealth()
        .filter((runtime) => runtime.state === "broken")
        .map((runtime) => `  broken    runtime "${runtime.name}": ${runtime.reason ?? "unknown reason"}`),
      `  health    ${url}/healthz (runtimes; 503 while one is broken), ${url}/livez (the server)`,
      tokenFile === undefined
        ? '  auth      the token given ("Authorization: Bearer <token>")'
        : `  auth      the project's token, in ${TOKEN_FILE} ("Authorization: Bearer <token>")`,
      ...(isLoopback(host)
        ? []
        : [
            `  note      plain HTTP on ${host}: the token crosses the network in the clear; put a TLS-terminating proxy in front`,
          ]),
      ...(corsOrigins.length === 0 ? [] : [`  cors      ${corsOrigins.join(", ")}`]),
      ...(schedules === undefined
        ? []
        : [
            `  schedules ${Object.keys(conductor.project.schedules ?? {}).join(", ")} (${schedules.mode === "redis" ? "shared through Redis" : "fired slots kept in the journal"}; conductor schedules lists them)`,
          ]),
      adopting
        ? `  resumed   ${resumed} unfinished execution${resumed === 1 ? "" : "s"} whose host is gone; adopts others as they turn up`
        : "  resumed   none (--no-resume)",
      "press Ctrl-C to stop",
      "",
    ].join("\n"),
  );
  // Start-up garbage goes now; what a burst of load grows goes when the server is idle again.
  releaseMemory();
  const stopReleasing = releaseMemoryWhenIdle();

  const signal = await stopping;
  stopReleasing();
  adopter?.stop();
  say(`${signal}, shutting down`);
  await schedules?.stop();
  await server.close();
  await shared?.close();
  await conductor.close();
  // The last OTLP export, with the executions that ended while stopping.
  await metrics.shutdown().catch(() => {});
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  say("stopped");
  return EXIT.ok;
}
