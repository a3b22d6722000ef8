import { existsSync, statSync } from "node:fs";
import { readdir, stat, utimes } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ConductorError } from "../../errors.js";
import type { Project, RuntimeSpec } from "../../project/project-config.js";
import type { RuntimeLaunch } from "../runtime-process.js";
import type { PrepareOptions } from "./prepare-launch.js";

/**
 * A Rust runtime: a binary, built once with `cargo build --release` from the configured package when it is
 * missing (or when asked with `conductor setup`); cargo's own incremental build makes a repeat cheap.
 */
export async function prepareRustLaunch(
  name: string,
  spec: Extract<RuntimeSpec, { kind: "rust" }>,
  project: Project,
  options: PrepareOptions,
): Promise<RuntimeLaunch> {
  if (spec.package === undefined) {
    const binary = resolve(project.dir, spec.binary);
    if (!existsSync(binary)) {
      throw new ConductorError(
        "runtime_start_failed",
        `runtime "${name}": binary ${binary} does not exist; build it, or set runtimes.${name}.package so the host can build it`,
      );
    }
    return { command: binary, args: [], cwd: project.dir };
  }
  const packageDir = resolve(project.dir, spec.package);
  if (!existsSync(join(packageDir, "Cargo.toml"))) {
    throw new ConductorError(
      "runtime_start_failed",
      `runtime "${name}": ${packageDir} is not a cargo package or workspace (no Cargo.toml); fix runtimes.${name}.package in conductor.yaml`,
    );
  }
  const { execa } = await import("execa");
  let binary = join(packageDir, "target", "release", spec.binary);
  if (!existsSync(binary)) {
    const metadata = await execa("cargo", ["metadata", "--format-version", "1", "--no-deps"], {
      cwd: packageDir,
      reject: false,
    });
    if (!metadata.failed) {
      const targetDirectory = (JSON.parse(String(metadata.stdout)) as { target_directory: string })
        .target_directory;
      binary = join(targetDirectory, "release", spec.binary);
    }
  }
  // Because a binary older than its sources would run code the user no longer has, an edit (to the package's
  // sources, Cargo.toml or Cargo.lock) makes cargo build again: incrementally, and cargo decides what is stale.
  const stale = !existsSync(binary) || (await newestSource(packageDir)) > statSync(binary).mtimeMs;
  if (options.force === true || stale) {
    options.onProgress?.(
      existsSync(binary)
        ? `building runtime "${name}" again (cargo build --release in ${packageDir}): its sources changed`
        : `building runtime "${name}" (cargo build --release in ${packageDir}); the first build takes a few minutes`,
    );
    const build = await execa("cargo", ["build", "--release", "--bin", spec.binary], {
      cwd: packageDir,
      reject: false,
      all: true,
    });
    if (build.failed) {
      const missing = build.exitCode === undefined && /ENOENT/.test(build.shortMessage ?? "");
      const tail = String(build.all ?? "")
        .trim()
        .split("\n")
        .slice(-15)
        .map((line) => `    ${line}`)
        .join("\n");
      throw new ConductorError(
        "runtime_start_failed",
        missing
          ? `runtime "${name}" is built with cargo, which was not found on PATH; install Rust (https://rustup.rs) or point runtimes.${name}.binary at a built binary`
          : `runtime "${name}": cargo build --release failed in ${packageDir}:\n${tail}`,
      );
    }
    // cargo leaves a binary it found fresh untouched (an edited README, say): marked as checked now, so the next
    // launch does not ask cargo again.
    if (existsSync(binary)) {
      const now = new Date();
      await utimes(binary, now, now).catch(() => {});
    }
  }
  return { command: binary, args: [], cwd: project.dir };
}

/** Directories of a cargo package that hold no sources of it. */
const NOT_SOURCES = new Set(["target", ".git", "node_modules", ".conductor"]);

/**
 * The newest modification time of a cargo package's own files (sources, build script, manifests), its build
 * output and version-control files aside. Path dependencies outside the package are not looked at: `conductor
 * setup --force` rebuilds after an edit there.
 */
export async function newestSource(packageDir: string): Promise<number> {
  let newest = 0;
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    await Promise.all(
      entries.map(async (entry) => {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          if (!NOT_SOURCES.has(entry.name)) await walk(path);
        } else if (entry.isFile()) {
          const { mtimeMs } = await stat(path).catch(() => ({ mtimeMs: 0 }));
          newest = Math.max(newest, mtimeMs);
        }
      }),
    );
  };
  await walk(packageDir);
  return newest;
}
