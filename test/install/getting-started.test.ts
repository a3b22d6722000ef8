/**
 * The packages a user installs, installed as a user does: scripts/pack.mjs builds the npm tarballs, the Python
 * wheel and the Rust crate; then, in an empty directory outside the repository, docs/getting-started.md is followed
 * block by block (test/fixtures/doc-blocks.ts): npm install, `conductor init --rust`, a blueprint mixing the
 * project's own TypeScript, Python and Rust nodes, their tests, `conductor new node` in Python and Rust, `serve`.
 *
 * What this environment changes in the page's commands, and only that:
 * - `npm install @conductor/host @conductor/sdk …` installs the tarballs just packed (the packages are not on the
 *   registry; the page says how to do the same from a checkout). Third-party packages come from the registry.
 * - `conductor serve` listens on port 0 (the page's 7070 is replaced by the port it prints).
 * - CARGO_TARGET_DIR points at a cache under runtimes/rust/target, so the crates.io dependencies of the project's
 *   crate are built once, not on every run; what this test builds of its own is removed from it afterwards. The
 *   release profile is built unoptimised (CARGO_PROFILE_RELEASE_OPT_LEVEL=0), because the test checks what the
 *   crate does, not how fast, and a first optimised build of tonic and arrow takes most of an hour on a busy
 *   2-core machine.
 * - PATH has the Node this test runs under first and nothing of the repository (no workspace `conductor`).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWalkthrough, docBlocks, type Walkthrough } from "../fixtures/doc-blocks.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const run = promisify(execFile);
const MINUTE = 60_000;

describe("docs/getting-started.md, with the packed artifacts, outside the repository", () => {
  let work: string;
  let artifacts: { wheel: string; crate: string; npm: Record<string, string> };
  let env: NodeJS.ProcessEnv;
  let walkthrough: Walkthrough;
  const targetDir = join(root, "runtimes", "rust", "target", "install-test");

  beforeAll(async () => {
    // The cache's binary of the project's crate is from an earlier run; the host would use it rather than build.
    await rm(join(targetDir, "release", "my-flows-nodes"), { force: true });
    work = await realpath(await mkdtemp(join(tmpdir(), "conductor-install-")));
    const { stdout } = await run(
      process.execPath,
      [join(root, "scripts/pack.mjs"), "--out", join(work, "packages"), "--json"],
      { cwd: root, maxBuffer: 16 << 20 },
    );
    artifacts = JSON.parse(stdout) as typeof artifacts;
    await mkdir(join(work, "home"));
    env = {
      ...Object.fromEntries(
        Object.entries(process.env).filter(([name]) => !/^(npm_|INIT_CWD$|VITEST|NODE_OPTIONS$)/i.test(name)),
      ),
      PATH: [
        dirname(process.execPath),
        ...(process.env.PATH ?? "").split(delimiter).filter((entry) => !entry.startsWith(root)),
      ].join(delimiter),
      CARGO_TARGET_DIR: targetDir,
      CARGO_PROFILE_RELEASE_OPT_LEVEL: "0",
      NO_COLOR: "1",
    };
    walkthrough = createWalkthrough({
      cwd: join(work, "home"),
      env,
      blockTimeoutMs: 25 * MINUTE,
      onBlock: (block) =>
        process.stderr.write(`getting-started.md:${block.line}: ${block.code.split("\n")[0]}\n`),
      rewrite: (code) =>
        code
          .replace(
            /^npm install @conductor\/host @conductor\/sdk (.*)$/m,
            (_, rest: string) =>
              `npm install --no-audit --no-fund ${Object.values(artifacts.npm).join(" ")} ${rest}`,
          )
          .replace(/^npx conductor serve$/m, "npx conductor serve --port 0"),
    });
  }, 10 * MINUTE);

  afterAll(async () => {
    await walkthrough?.close();
    const crate = join(work ?? "", "home", "my-flows", "rust");
    if (existsSync(join(crate, "Cargo.toml"))) {
      // The cache keeps the crates.io dependencies; what was built from this run's paths goes.
      await run("cargo", ["clean", "--release", "-p", "conductor-runtime", "-p", "my-flows-nodes"], {
        cwd: crate,
        env,
      }).catch(() => undefined);
    }
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  }, 2 * MINUTE);

  it("packs an npm tarball per package, a wheel with the data extra and a crate", async () => {
    expect(Object.keys(artifacts.npm).sort()).toEqual([
      "@conductor/host",
      "@conductor/runtime-node",
      "@conductor/sdk",
    ]);
    const metadata = await run("python3", [
      "-c",
      "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); print(z.read([n for n in z.namelist() if n.endswith('METADATA')][0]).decode())",
      artifacts.wheel,
    ]);
    expect(metadata.stdout).toContain("Name: conductor-runtime\n");
    expect(metadata.stdout).toContain("Provides-Extra: data\n");
    expect(metadata.stdout).toContain("Requires-Dist: pyarrow>=16; extra == 'data'");
    expect(artifacts.crate).toMatch(/conductor-runtime-0\.1\.0\.crate$/);
  });

  it(
    "follows every block of the page: install, init, run TypeScript, Python and Rust nodes, test, add nodes, serve",
    async () => {
      const page = await readFile(join(root, "docs/getting-started.md"), "utf8");
      const runs = await walkthrough.run(docBlocks(page), "docs/getting-started.md");
      const project = join(work, "home", "my-flows");
      expect(walkthrough.cwd).toBe(project);
      // Each language's node ran in the blueprint (the page's output blocks checked the values).
      const hello = runs.find((step) => step.block.code.includes("run flows/hello.blueprint.yaml"));
      expect(hello?.stdout).toContain("shout: HELLO, ADA");
      // Installed from the tarballs and the wheel, nothing from the repository.
      const host = JSON.parse(
        await readFile(join(project, "node_modules/@conductor/host/package.json"), "utf8"),
      );
      expect(JSON.stringify(host.exports)).not.toContain("source");
      expect(existsSync(join(project, "node_modules/@conductor/host/node_modules/@conductor"))).toBe(false);
      const stamp = JSON.parse(
        await readFile(join(project, ".conductor/venv-python/.conductor-stamp"), "utf8"),
      );
      expect(stamp.runtimePackage).toBe(
        join(project, "node_modules/@conductor/host/python/conductor_runtime-0.1.0-py3-none-any.whl"),
      );
      // Nothing installed names this repository's path.
      const shipped = await readdir(join(project, "node_modules/@conductor"), {
        recursive: true,
        withFileTypes: true,
      });
      for (const entry of shipped.filter((candidate) => candidate.isFile())) {
        const text = await readFile(join(entry.parentPath, entry.name), "utf8");
        expect(text.includes(root), `${join(entry.parentPath, entry.name)} names the repository's path`).toBe(
          false,
        );
      }
      for (const file of [
        "conductor.yaml",
        "flows/hello.blueprint.yaml",
        "rust/Cargo.toml",
        ".vscode/settings.json",
      ]) {
        expect(await readFile(join(project, file), "utf8")).not.toContain(root);
      }
      expect(await readFile(join(project, "rust/Cargo.toml"), "utf8")).toContain(
        'conductor-runtime = { path = "../node_modules/@conductor/host/rust/conductor-runtime" }',
      );
      // The scaffolded and added Rust code is as rustfmt lays it out.
      await run("cargo", ["fmt", "--check"], { cwd: join(project, "rust"), env });
    },
    40 * MINUTE,
  );
});
