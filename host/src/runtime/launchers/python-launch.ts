import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ConductorError } from "../../errors.js";
import { repositoryPath } from "../../package-dir.js";
import type { Project, RuntimeSpec } from "../../project/project-config.js";
import type { RuntimeLaunch } from "../runtime-process.js";
import type { PrepareOptions } from "./prepare-launch.js";

const STAMP = ".conductor-stamp";

/**
 * A Python runtime: a virtual environment with conductor-runtime and the project's requirements, created on first
 * use and reused while its stamp (a hash of what was installed) matches.
 */
export async function preparePythonLaunch(
  name: string,
  spec: Extract<RuntimeSpec, { kind: "python" }>,
  project: Project,
  options: PrepareOptions,
): Promise<RuntimeLaunch> {
  const venv = resolve(project.dir, spec.venv ?? `.conductor/venv-${name}`);
  const python = join(venv, "bin", "python");
  const runtimePackage = spec.runtimePackage ?? repositoryPath("runtimes", "python");
  const requirements = spec.requirements ?? [];
  const stamp = createHash("sha256").update(JSON.stringify({ runtimePackage, requirements })).digest("hex");
  const current = await readFile(join(venv, STAMP), "utf8").catch(() => undefined);

  if (options.force === true || current !== stamp || !existsSync(python)) {
    const { execa } = await import("execa");
    if (!existsSync(python)) {
      const interpreter = spec.interpreter ?? "python3";
      const version = await execa(interpreter, ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"], {
        reject: false,
      });
      if (version.failed) {
        throw new ConductorError(
          "runtime_start_failed",
          `runtime "${name}" needs Python >= 3.11, but "${interpreter}" cannot be run (${/ENOENT/.test(version.shortMessage ?? "") ? "not found" : (version.shortMessage ?? "").split("\n")[0]}); install Python or set runtimes.${name}.interpreter in conductor.yaml`,
        );
      }
      const [major, minor] = String(version.stdout).trim().split(".").map(Number);
      if (major !== 3 || (minor ?? 0) < 11) {
        throw new ConductorError(
          "runtime_start_failed",
          `runtime "${name}" needs Python >= 3.11, found ${String(version.stdout).trim()} at "${interpreter}"; set runtimes.${name}.interpreter in conductor.yaml`,
        );
      }
      options.onProgress?.(`creating the Python environment of runtime "${name}" in ${venv}`);
      await run(execa, interpreter, ["-m", "venv", venv], name, "create the virtual environment");
    }
    const importable = await execa(python, ["-c", "import conductor_runtime"], { reject: false });
    const packages = [
      ...(importable.failed || options.force === true ? [runtimePackage] : []),
      ...requirements,
    ];
    if (packages.length > 0) {
      options.onProgress?.(
        `installing ${packages.join(", ")} for runtime "${name}" (first use; later runs skip this)`,
      );
      await run(
        execa,
        python,
        ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", ...packages],
        name,
        "install its packages",
      );
    }
    await writeFile(join(venv, STAMP), stamp);
  }

  const args = ["-m", "conductor_runtime"];
  for (const module of spec.modules) args.push("--module", module);
  for (const path of spec.path ?? []) args.push("--path", resolve(project.dir, path));
  if (spec.maxConcurrency !== undefined) args.push("--max-concurrency", String(spec.maxConcurrency));
  return { command: python, args, cwd: project.dir, env: { PYTHONUNBUFFERED: "1" } };
}

async function run(
  execa: typeof import("execa").execa,
  command: string,
  args: string[],
  name: string,
  what: string,
): Promise<void> {
  const result = await execa(command, args, { reject: false, all: true });
  if (result.failed) {
    const tail = String(result.all ?? "")
      .trim()
      .split("\n")
      .slice(-12)
      .map((line) => `    ${line}`)
      .join("\n");
    throw new ConductorError(
      "runtime_start_failed",
      `runtime "${name}": could not ${what} (${command} ${args.join(" ")} ${result.exitCode === undefined ? result.shortMessage : `exited with code ${result.exitCode}`}):\n${tail}`,
    );
  }
}
