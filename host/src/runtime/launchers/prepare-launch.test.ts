import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostPackageDir } from "../../package-dir.js";
import type { Project, RuntimeSpec } from "../../project/project-config.js";
import { prepareLaunch } from "./prepare-launch.js";
import { defaultRuntimePackage } from "./python-launch.js";

describe("prepareLaunch()", () => {
  let dir: string;
  let project: Project;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "launch-"));
    project = { dir, blueprints: [], nodes: [], runtimes: {} };
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("explains a missing Python interpreter and how to name another", async () => {
    await expect(
      prepareLaunch(
        "py",
        { kind: "python", modules: ["nodes"], interpreter: "python-that-does-not-exist" },
        project,
      ),
    ).rejects.toThrow(
      'runtime "py" needs Python >= 3.11, but "python-that-does-not-exist" cannot be run (not found); install Python or set runtimes.py.interpreter in conductor.yaml',
    );
  });

  it("explains an interpreter that is too old", async () => {
    const fake = join(dir, "old-python");
    await import("node:fs/promises").then((fs) =>
      fs.writeFile(fake, "#!/bin/sh\necho 3.8\n", { mode: 0o755 }),
    );
    await expect(
      prepareLaunch("py", { kind: "python", modules: ["nodes"], interpreter: fake }, project),
    ).rejects.toThrow(
      `runtime "py" needs Python >= 3.11, found 3.8 at "${fake}"; set runtimes.py.interpreter in conductor.yaml`,
    );
  });

  it("names a Rust binary that does not exist and how to let the host build it", async () => {
    await expect(prepareLaunch("rs", { kind: "rust", binary: "bin/missing" }, project)).rejects.toThrow(
      `runtime "rs": binary ${join(dir, "bin/missing")} does not exist; build it, or set runtimes.rs.package so the host can build it`,
    );
  });

  it("gives a runtime process the env of its spec, whatever its kind", async () => {
    const env = { RUST_LOG: "debug" };
    const binary = join(dir, "bin/built");
    await mkdir(join(dir, "bin"), { recursive: true });
    await writeFile(binary, "");
    expect((await prepareLaunch("rs", { kind: "rust", binary: "bin/built", env }, project)).env).toEqual(env);
    expect((await prepareLaunch("n", { kind: "node", modules: ["./n.mjs"], env }, project)).env).toEqual(env);
    expect((await prepareLaunch("c", { kind: "command", command: ["x"], env }, project)).env).toEqual(env);
    expect((await prepareLaunch("n", { kind: "node", modules: ["./n.mjs"] }, project)).env).toBeUndefined();
  });

  it("names a package directory that is not a cargo package", async () => {
    await expect(
      prepareLaunch("rs", { kind: "rust", package: "nowhere", binary: "x" }, project),
    ).rejects.toThrow(
      `runtime "rs": ${join(dir, "nowhere")} is not a cargo package or workspace (no Cargo.toml); fix runtimes.rs.package in conductor.yaml`,
    );
  });

  it("says so when cargo is missing", async () => {
    const path = process.env.PATH;
    process.env.PATH = "/nonexistent";
    await writeFile(join(dir, "Cargo.toml"), '[package]\nname = "x"\n');
    try {
      await expect(prepareLaunch("rs", { kind: "rust", package: dir, binary: "x" }, project)).rejects.toThrow(
        'runtime "rs" is built with cargo, which was not found on PATH; install Rust (https://rustup.rs) or point runtimes.rs.binary at a built binary',
      );
    } finally {
      process.env.PATH = path;
    }
  });

  it("installs into a Python venv what changed: the requirements, or conductor-runtime when its package changed", async () => {
    // A venv whose python records how it is called (in the project directory) and can import conductor_runtime.
    const venv = join(dir, "fake-venv");
    const calls = join(dir, "calls.log");
    await mkdir(join(venv, "bin"), { recursive: true });
    await writeFile(join(venv, "bin", "python"), `#!/bin/sh\necho "$(pwd) $*" >> ${calls}\nexit 0\n`, {
      mode: 0o755,
    });
    const log = async () => {
      const text = await readFile(calls, "utf8").catch(() => "");
      await rm(calls, { force: true });
      return text
        .trim()
        .split("\n")
        .filter((line) => line.includes(" -m pip "));
    };
    const spec = (runtimePackage: string, requirements: string[]): RuntimeSpec => ({
      kind: "python",
      modules: ["nodes"],
      venv,
      runtimePackage,
      requirements,
    });
    const pip = "-m pip install --quiet --disable-pip-version-check";

    const launch = await prepareLaunch("py", spec("./wheels/a.whl", []), project);
    expect(launch).toMatchObject({
      command: join(venv, "bin", "python"),
      args: ["-m", "conductor_runtime", "--module", "nodes"],
    });
    expect(await log()).toEqual([]);
    await prepareLaunch("py", spec("./wheels/a.whl", ["pandas>=2.2"]), project);
    expect(await log()).toEqual([`${dir} ${pip} pandas>=2.2`]);
    await prepareLaunch("py", spec("./wheels/a.whl", ["pandas>=2.2"]), project);
    expect(await log()).toEqual([]);
    await prepareLaunch("py", spec("./wheels/b.whl", ["pandas>=2.2"]), project);
    expect(await log()).toEqual([`${dir} ${pip} ./wheels/b.whl pandas>=2.2`]);
    await prepareLaunch("py", spec("./wheels/b.whl", ["pandas>=2.2"]), project, { force: true });
    expect(await log()).toEqual([`${dir} ${pip} ./wheels/b.whl pandas>=2.2`]);
  });

  it("installs conductor-runtime from this checkout's runtimes/python when the host ships no wheel", () => {
    expect(defaultRuntimePackage()).toBe(join(hostPackageDir(), "..", "runtimes", "python"));
  });

  it("launches the Node sidecar with the same Node and the project's modules", async () => {
    const launch = await prepareLaunch(
      "node",
      { kind: "node", modules: ["./nodes.ts"], maxConcurrency: 4 },
      project,
    );
    expect(launch.command).toBe(process.execPath);
    expect(launch.args.slice(1)).toEqual([join(dir, "nodes.ts"), "--max-concurrency=4"]);
    expect(launch.args[0]).toMatch(/runtimes\/node\/dist\/main\.js$/);
  });
});
