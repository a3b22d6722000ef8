import { existsSync, readdirSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ConductorError } from "../../errors.js";
import { hostPackageDir, repositoryPath } from "../../package-dir.js";
import type { Project, RuntimeSpec } from "../../project/project-config.js";
import type { RuntimeLaunch } from "../runtime-process.js";
import type { PrepareOptions } from "./prepare-launch.js";

const STAMP = ".conductor-stamp";

/** What a venv's stamp records: what was installed into it, so a change installs again. */
interface Stamp {
  runtimePackage: string;
  requirements: string[];
}

/**
 * Where pip finds conductor-runtime when the project does not say (`runtimePackage`): the wheel shipped in the
 * `python/` folder of an installed @conductor/host (scripts/pack.mjs puts it there), so the Python runtime always
 * has the host's own version; in a checkout of the Conductor repository, which has no wheel, its runtimes/python.
 * Undefined when neither exists.
 */
export function defaultRuntimePackage(): string | undefined {
  const shipped = join(hostPackageDir(), "python");
  const wheel = existsSync(shipped)
    ? readdirSync(shipped).find((file) => /^conductor_runtime-.+\.whl$/.test(file))
    : undefined;
  if (wheel !== undefined) return join(shipped, wheel);
  const checkout = repositoryPath("runtimes", "python");
  return existsSync(join(checkout, "pyproject.toml")) ? checkout : undefined;
}

/**
 * A Python runtime: a virtual environment with conductor-runtime and the project's requirements, created on first
 * use and reused while its stamp (what was installed) matches. conductor-runtime is installed when the venv lacks
 * it, when `runtimePackage` changed (a new host ships a new wheel) or with `force`; the requirements whenever they
 * changed.
 */
export async function preparePythonLaunch(
  name: string,
  spec: Extract<RuntimeSpec, { kind: "python" }>,
  project: Project,
  options: PrepareOptions,
): Promise<RuntimeLaunch> {
  const venv = resolve(project.dir, spec.venv ?? `.conductor/venv-${name}`);
  const python = join(venv, "bin", "python");
  const runtimePackage = spec.runtimePackage ?? defaultRuntimePackage();
  if (runtimePackage === undefined) {
    throw new ConductorError(
      "runtime_start_failed",
      `runtime "${name}": no conductor-runtime to install: @conductor/host at ${hostPackageDir()} ships no wheel in python/ and is not in a checkout of the Conductor repository; set runtimes.${name}.runtimePackage in conductor.yaml to a wheel, a directory or a requirement such as conductor-runtime==0.1.0`,
    );
  }
  const requirements = spec.requirements ?? [];
  const stamp: Stamp = { runtimePackage, requirements };
  const previous = await readStamp(join(venv, STAMP));

  if (
    options.force === true ||
    previous === undefined ||
    JSON.stringify(previous) !== JSON.stringify(stamp) ||
    !existsSync(python)
  ) {
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
      await run(
        execa,
        interpreter,
        ["-m", "venv", venv],
        project.dir,
        name,
        "create the virtual environment",
      );
    }
    const importable = await execa(python, ["-c", "import conductor_runtime"], { reject: false });
    // Because a checkout's development venv holds an editable install of runtimes/python, the runtime package is
    // installed only when something asks for it, never just because the requirements changed.
    const installRuntime =
      importable.failed ||
      options.force === true ||
      (previous !== undefined && previous.runtimePackage !== runtimePackage);
    const packages = [...(installRuntime ? [runtimePackage] : []), ...requirements];
    if (packages.length > 0) {
      options.onProgress?.(
        `installing ${packages.join(", ")} for runtime "${name}" (first use; later runs skip this)`,
      );
      await run(
        execa,
        python,
        ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", ...packages],
        project.dir,
        name,
        "install its packages",
      );
    }
    await writeFile(join(venv, STAMP), `${JSON.stringify(stamp)}\n`);
  }

  const args = ["-m", "conductor_runtime"];
  for (const module of spec.modules) args.push("--module", module);
  for (const path of spec.path ?? []) args.push("--path", resolve(project.dir, path));
  if (spec.maxConcurrency !== undefined) args.push("--max-concurrency", String(spec.maxConcurrency));
  return { command: python, args, cwd: project.dir, env: { PYTHONUNBUFFERED: "1" } };
}

/** The stamp of the last install into a venv; undefined when there is none or it is of another format. */
async function readStamp(file: string): Promise<Stamp | undefined> {
  const text = await readFile(file, "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const stamp = JSON.parse(text) as Partial<Stamp>;
    return typeof stamp.runtimePackage === "string" && Array.isArray(stamp.requirements)
      ? { runtimePackage: stamp.runtimePackage, requirements: stamp.requirements }
      : undefined;
  } catch {
    return undefined;
  }
}

/** Runs a set-up command in the project directory (so relative paths in requirements resolve there). */
async function run(
  execa: typeof import("execa").execa,
  command: string,
  args: string[],
  cwd: string,
  name: string,
  what: string,
): Promise<void> {
  const result = await execa(command, args, { cwd, reject: false, all: true });
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
