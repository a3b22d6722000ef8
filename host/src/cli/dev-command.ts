import { resolve } from "node:path";
import { styleText } from "node:util";
import { stringifyJson } from "@conductor/sdk/protocol";
import { type ApiServer, createApiServer } from "../api/api-server.js";
import type { Conductor } from "../conductor.js";
import { IGNORED_DIRECTORIES } from "../dev/change-impact.js";
import { createDevSession } from "../dev/dev-session.js";
import { watchTree } from "../dev/watch-tree.js";
import { ensureProjectToken } from "../project/project-token.js";
import { type CommandContext, EXIT, parseCommandArgs, reportError } from "./command.js";
import { openConductor } from "./open-conductor.js";
import { readInputs } from "./run-command.js";

/**
 * `conductor dev [blueprint]`: the API and the debugger, as `conductor serve` on 127.0.0.1, and a watch on the
 * project. When a blueprint, a TypeScript or Python node module or a Rust crate changes, the blueprint is validated
 * again, only the runtime whose code changed starts afresh (executions in flight finish on the code they started
 * with), and the last execution runs again from the first node the change touched, reusing the recorded results
 * upstream of it; the debugger shows the new execution. With a blueprint (and --input), it is run once at start,
 * so there is a last execution to re-run.
 */
export default async function dev(context: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(context, {
    allowPositionals: true,
    options: {
      port: { type: "string", short: "p" },
      project: { type: "string" },
      input: { type: "string", short: "i", multiple: true },
      inputs: { type: "string" },
      verbose: { type: "boolean" },
      "no-debugger": { type: "boolean" },
    },
  });
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  if (positionals.length > 1) {
    context.stderr.write(
      "conductor dev: expected at most one blueprint file, e.g. `conductor dev flow.yaml`\n",
    );
    return EXIT.usage;
  }
  const port = Number(values.port ?? "7070");
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    context.stderr.write(`conductor dev: --port must be a port number (0-65535), got "${values.port}"\n`);
    return EXIT.usage;
  }
  const blueprint = positionals[0];
  const log = (line: string) => context.stdout.write(`${styleText("dim", "[dev]")} ${line}\n`);

  let conductor: Conductor | undefined;
  let server: ApiServer | undefined;
  let inputs: Record<string, unknown>;
  try {
    inputs = await readInputs(values.inputs, values.input ?? []);
    conductor = await openConductor({
      project: values.project,
      blueprint,
      stderr: context.stderr,
      verbose: values.verbose === true,
      label: "conductor dev",
    });
    const blueprintPath = blueprint === undefined ? undefined : resolve(blueprint);
    process.chdir(conductor.project.dir);
    const { token } = await ensureProjectToken(conductor.project.dir);
    await conductor.nodeTypes();
    server = await createApiServer(conductor, {
      host: "127.0.0.1",
      port,
      token,
      tokenHint: "it is in the project's .conductor/api-token",
      ...(values["no-debugger"] === true ? { debuggerDir: false as const } : {}),
    });
    context.stdout.write(
      [
        `${styleText("bold", "conductor dev")}: watching ${conductor.project.dir}`,
        `  API       ${server.url}`,
        ...(values["no-debugger"] === true ? [] : [`  debugger  ${server.url}/#token=${server.token}`]),
        "press Ctrl-C to stop",
        "",
      ].join("\n"),
    );
    let session = createDevSession({ conductor, log });
    await session.init();
    if (blueprintPath !== undefined) {
      // A blueprint that does not run yet is what development is for: reported, and the watch starts anyway.
      try {
        const result = await conductor.run(blueprintPath, inputs);
        log(
          result.status === "completed"
            ? `${result.executionId} completed: ${stringifyJson(result.outputs)}`
            : `${result.executionId} ${result.status}${result.failure === undefined ? "" : `: ${result.failure.message}`}`,
        );
      } catch (error) {
        log(`${blueprint} did not run: ${(error as Error).message}`);
      }
    }

    // conductor.yaml changed: the project is opened afresh beside the running one, and takes its place (and its
    // port) only once its runtimes have started, so a config that does not load leaves the running project serving.
    const projectDir = conductor.project.dir;
    const servedPort = Number(new URL(server.url).port);
    const reopen = async () => {
      log("conductor.yaml changed: opening the project afresh");
      let next: Conductor;
      try {
        next = await openConductor({
          project: projectDir,
          stderr: context.stderr,
          verbose: values.verbose === true,
          label: "conductor dev",
        });
      } catch (error) {
        log(`kept the running project: ${(error as Error).message}`);
        return;
      }
      try {
        await next.nodeTypes();
      } catch (error) {
        await next.close();
        log(`kept the running project: ${(error as Error).message}`);
        return;
      }
      const before = { server: server!, conductor: conductor! };
      await before.server.close();
      await before.conductor.close();
      conductor = next;
      server = await createApiServer(next, {
        host: "127.0.0.1",
        port: servedPort,
        token,
        tokenHint: "it is in the project's .conductor/api-token",
        ...(values["no-debugger"] === true ? { debuggerDir: false as const } : {}),
      });
      session = createDevSession({ conductor: next, log });
      await session.init();
      log(`reloaded the project: its runtimes and node modules started afresh, serving at ${server.url}`);
    };

    // One batch at a time, in the order they come: a change during a re-run is applied after it.
    let queue = Promise.resolve();
    const watcher = watchTree(projectDir, {
      ignore: IGNORED_DIRECTORIES,
      onChange: (paths) => {
        queue = queue.then(async () => {
          const outcome = await session.apply(paths);
          if (outcome.projectChanged === true) {
            await reopen().catch((error: unknown) =>
              log(`cannot reload the project: ${(error as Error).message}`),
            );
          }
        });
      },
      onError: (error) => log(`cannot watch: ${error.message}`),
    });
    await watcher.ready;
    log("watching for changes");

    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    watcher.close();
    await queue;
    context.stderr.write(`conductor dev: ${signal}, shutting down\n`);
    await server?.close();
    await conductor?.close();
    return EXIT.ok;
  } catch (error) {
    await server?.close();
    await conductor?.close();
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
      context.stderr.write(`conductor dev: port ${port} is in use; pick another with --port\n`);
      return EXIT.usage;
    }
    return reportError(context, error, false);
  }
}
