import { styleText } from "node:util";
import { type ApiServer, createApiServer } from "../api/api-server.js";
import { bindProblem } from "../api/auth.js";
import { corsProblem } from "../api/cors.js";
import type { Conductor, NodeTypeEntry } from "../conductor.js";
import { SUB_BLUEPRINT_PREFIX } from "../runtime/sub-blueprint-runtime.js";
import { type CommandContext, EXIT, parseCommandArgs, reportError } from "./command.js";
import { releaseMemory, releaseMemoryWhenIdle } from "./idle-memory.js";
import { openConductor } from "./open-conductor.js";

/**
 * `conductor serve`: the API (gRPC, gRPC-Web, Connect), webhooks and the visual debugger on one port, with the
 * project's runtimes started up front so the first request is as fast as the rest. SIGINT or SIGTERM stops it
 * gracefully: no new connections, running executions cancelled, runtimes closed.
 */
export default async function serve(context: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(context, {
    options: {
      port: { type: "string", short: "p" },
      host: { type: "string" },
      token: { type: "string" },
      project: { type: "string" },
      verbose: { type: "boolean" },
      "no-debugger": { type: "boolean" },
      "cors-origin": { type: "string", multiple: true },
      resume: { type: "boolean" },
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
  const token = values.token ?? process.env.CONDUCTOR_TOKEN;
  const corsOrigins = values["cors-origin"] ?? [];
  const problem = bindProblem(host, token) ?? corsProblem(corsOrigins, token);
  if (problem !== undefined) {
    context.stderr.write(`conductor serve: ${problem}\n`);
    return EXIT.usage;
  }

  let conductor: Conductor | undefined;
  let server: ApiServer | undefined;
  let nodeTypes: NodeTypeEntry[];
  try {
    conductor = await openConductor({
      project: values.project,
      stderr: context.stderr,
      verbose: values.verbose === true,
    });
    // Relative paths in blueprints then mean the same in host nodes as in the runtimes, which run in the project
    // directory, whatever directory the server was started from.
    process.chdir(conductor.project.dir);
    // Starts every runtime of the project now, so no request waits for a runtime to start. One that does not
    // start is reported below and in /healthz; the server serves every blueprint that does not need it.
    nodeTypes = await conductor.nodeTypes();
    server = await createApiServer(conductor, {
      host,
      port,
      ...(token === undefined || token === "" ? {} : { token }),
      ...(values["no-debugger"] === true ? { debuggerDir: false as const } : {}),
      ...(corsOrigins.length === 0 ? {} : { corsOrigins }),
    });
  } catch (error) {
    await conductor?.close();
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
      context.stderr.write(
        `conductor serve: port ${port} on ${host} is in use; stop what uses it or pick another with --port\n`,
      );
      return EXIT.usage;
    }
    return reportError(context, error, false);
  }

  // Executions the journal shows as running were cut off by a host that died; continue them when asked to.
  let resumed = 0;
  if (values.resume === true) {
    try {
      resumed = (await conductor.resumeUnfinished()).length;
    } catch (error) {
      context.stderr.write(
        `conductor serve: could not resume unfinished executions: ${(error as Error).message}\n`,
      );
    }
  }

  const url = server.url;
  // The project's blueprints are node types too (blueprint.<id>), served by no process: said apart.
  const blueprintNodes = nodeTypes.filter((entry) => entry.nodeType.type.startsWith(SUB_BLUEPRINT_PREFIX));
  const runtimeNodes = nodeTypes.filter((entry) => !entry.nodeType.type.startsWith(SUB_BLUEPRINT_PREFIX));
  const runtimes = new Set(runtimeNodes.map((entry) => entry.runtime));
  context.stdout.write(
    [
      `${styleText("bold", "conductor serve")}: listening on ${url} (project ${conductor.project.dir})`,
      `  API       ${url}  (gRPC, gRPC-Web and Connect; service conductor.api.v1.ConductorService)`,
      ...(values["no-debugger"] === true ? [] : [`  debugger  ${url}/`]),
      `  webhooks  POST ${url}/hooks/<blueprint-id>`,
      `  runtimes  ${[...runtimes].join(", ")} (${runtimeNodes.length} node types)${blueprintNodes.length === 0 ? "" : `, and ${blueprintNodes.length} blueprint${blueprintNodes.length === 1 ? "" : "s"} usable as nodes`}`,
      ...conductor
        .runtimeHealth()
        .filter((runtime) => runtime.state === "broken")
        .map((runtime) => `  broken    runtime "${runtime.name}": ${runtime.reason ?? "unknown reason"}`),
      `  health    ${url}/healthz (runtimes; 503 while one is broken), ${url}/livez (the server)`,
      token === undefined || token === ""
        ? "  auth      none (loopback only)"
        : '  auth      bearer token required ("Authorization: Bearer <token>"; in the debugger: /#token=<token>)',
      ...(corsOrigins.length === 0 ? [] : [`  cors      ${corsOrigins.join(", ")}`]),
      ...(values.resume === true
        ? [`  resumed   ${resumed} unfinished execution${resumed === 1 ? "" : "s"}`]
        : []),
      "press Ctrl-C to stop",
      "",
    ].join("\n"),
  );
  // Start-up garbage goes now; what a burst of load grows goes when the server is idle again.
  releaseMemory();
  const stopReleasing = releaseMemoryWhenIdle();

  const stopping = new Promise<string>((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
  const signal = await stopping;
  stopReleasing();
  context.stderr.write(`conductor serve: ${signal}, shutting down\n`);
  // A second signal while shutting down stops at once.
  const force = () => process.exit(EXIT.cancelled);
  process.once("SIGINT", force);
  process.once("SIGTERM", force);
  await server.close();
  await conductor.close();
  process.off("SIGINT", force);
  process.off("SIGTERM", force);
  context.stderr.write("conductor serve: stopped\n");
  return EXIT.ok;
}
