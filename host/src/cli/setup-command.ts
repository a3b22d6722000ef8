import { findProject } from "../project/project-config.js";
import { prepareLaunch } from "../runtime/launchers/prepare-launch.js";
import { loadWasmModules } from "../wasm/load-wasm-modules.js";
import { type CommandContext, EXIT, parseCommandArgs, reportError } from "./command.js";

/** `conductor setup`: prepares every runtime of the project (venvs, builds) so the first run is fast. */
export default async function setup(context: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(context, {
    options: { project: { type: "string" }, force: { type: "boolean" }, json: { type: "boolean" } },
  });
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  try {
    const project = await findProject(values.project ?? process.cwd());
    for (const [name, spec] of Object.entries(project.runtimes)) {
      const started = Date.now();
      if (spec.kind === "wasm") await loadWasmModules(name, spec, project.dir);
      else
        await prepareLaunch(name, spec, project, {
          force: values.force === true,
          onProgress: (message) => context.stderr.write(`conductor: ${message}\n`),
        });
      context.stderr.write(
        `conductor: runtime "${name}" (${spec.kind}) is ready (${Date.now() - started} ms)\n`,
      );
    }
    return EXIT.ok;
  } catch (error) {
    return reportError(context, error, values.json === true);
  }
}
