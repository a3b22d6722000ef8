// Builds the artifacts a user installs, from the build scripts/setup.sh (or `npm run build`) made:
//
//   @conductor/sdk, @conductor/runtime-node, @conductor/host   npm tarballs (npm pack)
//   conductor-runtime (Python)                                  a wheel (pip wheel), with its `data` extra
//   conductor-runtime (Rust)                                    a crate (cargo package)
//
// The host's tarball carries the Python wheel (python/), the Rust crate's sources (rust/conductor-runtime/) and the
// JSON Schemas of the blueprint and project formats (schemas/), so an installed host installs the Python runtime
// of its own version and `conductor init --rust` points a project's crate at the crate of its own version, without
// any path into this repository (docs/decisions.md, "Packages a user installs").
//
// Each npm package is packed from a staging copy of what `npm pack` would take, with a manifest fit for a registry:
// no "source" export condition (it points at TypeScript sources the tarball does not ship; the workspace uses it
// for tests), no scripts or devDependencies. The copy's JavaScript is scanned for imports of packages its
// manifest does not name, and the versions of the workspace's own packages must be pinned exactly; either problem
// fails the script, so a tarball never relies on what the workspace happens to have installed.
//
//   node scripts/pack.mjs [--out <dir>] [--json]        (default <repository>/dist/packages)
import { execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({ options: { out: { type: "string" }, json: { type: "boolean" } } });
const out = resolve(values.out ?? join(root, "dist", "packages"));

/** The npm packages, in dependency order; `extra` adds files to the staging copy before packing. */
const npmPackages = [{ dir: "sdk-ts" }, { dir: "runtimes/node" }, { dir: "host", extra: addHostExtras }];

function fail(message) {
  process.stderr.write(`pack: ${message}\n`);
  process.exit(1);
}

function step(message) {
  if (values.json !== true) process.stderr.write(`pack: ${message}\n`);
}

function run(command, args, options = {}) {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...options });
  } catch (error) {
    fail(`${command} ${args.join(" ")} failed:\n${error.stderr ?? ""}${error.stdout ?? ""}`);
  }
}

for (const file of [
  "sdk-ts/dist/index.js",
  "runtimes/node/dist/main.js",
  "host/dist/index.js",
  "host/dist/bundle/main.js",
  "host/debugger/dist/index.html",
]) {
  if (!existsSync(join(root, file)))
    fail(`${file} is missing; run \`npm run setup\` first (it builds everything)`);
}

// The debugger is rebuilt when its sources (or its build's settings) changed since it was built: a dist built by
// an older configuration (a development build, with this machine's paths in it) must not be shipped.
step("the visual debugger is up to date (scripts/setup-debugger.sh)");
run("bash", [join(root, "scripts/setup-debugger.sh")], { cwd: root });

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const work = mkdtempSync(join(tmpdir(), "conductor-pack-"));
const artifacts = {};

try {
  // The Python wheel. pip builds it in an isolated environment with the build backend pyproject.toml names.
  step("building the Python wheel (pip wheel)");
  const python = existsSync(join(root, "runtimes/python/.venv/bin/python"))
    ? join(root, "runtimes/python/.venv/bin/python")
    : "python3";
  run(python, [
    "-m",
    "pip",
    "wheel",
    "--quiet",
    "--disable-pip-version-check",
    "--no-deps",
    "--wheel-dir",
    out,
    join(root, "runtimes/python"),
  ]);
  const wheel = readdirSync(out).find((file) => /^conductor_runtime-.+-py3-none-any\.whl$/.test(file));
  if (wheel === undefined) fail(`pip wheel made no conductor_runtime wheel in ${out}`);
  artifacts.wheel = join(out, wheel);

  // The Rust crate. Not verified here (that compiles every dependency in debug): the install test builds a crate
  // depending on the packaged one instead, which checks the same thing.
  step("packaging the Rust crate (cargo package)");
  run("cargo", ["package", "--package", "conductor-runtime", "--no-verify", "--allow-dirty", "--locked"], {
    cwd: join(root, "runtimes/rust"),
  });
  const version = JSON.parse(readFileSync(join(root, "host/package.json"), "utf8")).version;
  const crate = join(root, "runtimes/rust/target/package", `conductor-runtime-${version}.crate`);
  if (!existsSync(crate)) fail(`cargo package made no ${relative(root, crate)}`);
  cpSync(crate, join(out, `conductor-runtime-${version}.crate`));
  artifacts.crate = join(out, `conductor-runtime-${version}.crate`);

  const versions = Object.fromEntries(
    npmPackages.map(({ dir }) => {
      const manifest = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8"));
      return [manifest.name, manifest.version];
    }),
  );
  artifacts.npm = {};
  for (const { dir, extra } of npmPackages) {
    const source = join(root, dir);
    const manifest = JSON.parse(readFileSync(join(source, "package.json"), "utf8"));
    step(`packing ${manifest.name}`);
    const stage = join(work, manifest.name.replace("/", "-"));
    // What npm would pack from the package folder: its `files`, README and package.json.
    const [listing] = JSON.parse(
      run("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: source }),
    );
    for (const { path } of listing.files) {
      if (path === "package.json") continue;
      mkdirSync(dirname(join(stage, path)), { recursive: true });
      cpSync(join(source, path), join(stage, path));
    }
    if (!existsSync(join(stage, "README.md"))) fail(`${dir} has no README.md`);
    const published = publishedManifest(manifest, versions);
    writeFileSync(join(stage, "package.json"), `${JSON.stringify(published, null, 2)}\n`);
    await extra?.(stage, { wheel: artifacts.wheel, crate: artifacts.crate });
    checkImports(stage, published);
    const [packed] = JSON.parse(
      run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", out], { cwd: stage }),
    );
    artifacts.npm[manifest.name] = join(out, packed.filename);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

if (values.json === true) process.stdout.write(`${JSON.stringify(artifacts, null, 2)}\n`);
else step(`wrote ${readdirSync(out).join(", ")} to ${out}`);

/** The manifest as published: no "source" condition, no scripts or devDependencies, siblings pinned exactly. */
function publishedManifest(manifest, versions) {
  const published = structuredClone(manifest);
  delete published.scripts;
  delete published.devDependencies;
  published.exports = withoutSource(published.exports);
  if (published.imports !== undefined) published.imports = withoutSource(published.imports);
  for (const [name, range] of Object.entries(published.dependencies ?? {})) {
    if (name in versions && range !== versions[name]) {
      fail(
        `${manifest.name} depends on ${name}@${range}; pin it to the workspace's version, "${versions[name]}"`,
      );
    }
  }
  return published;
}

function withoutSource(exports) {
  if (typeof exports !== "object" || exports === null) return exports;
  return Object.fromEntries(
    Object.entries(exports)
      .filter(([condition]) => condition !== "source")
      .map(([key, value]) => [key, withoutSource(value)]),
  );
}

/**
 * Fails when the staged JavaScript imports a package the manifest does not name: `import … from`, `import()`,
 * `require()`, `createRequire(…)(…)` and `import.meta.resolve()` of a bare specifier.
 */
function checkImports(stage, manifest) {
  const allowed = new Set([
    manifest.name,
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
  ]);
  const builtins = new Set(builtinModules);
  // `from` counts only in an import or export statement (at the start of a line or after a `;`), because the word
  // also appears in messages, e.g. 'remove it from "nodes" in the project file'.
  const pattern =
    /(?:(?:^|[;\n])[ \t]*(?:import|export)\b[^;"'`]*?\bfrom\s*|\bimport\s*\(\s*|(?:\b|__)require\s*\(\s*|import\.meta\.resolve\s*\(\s*|createRequire\w*\([^()]*\)\s*\(\s*)["']((?:@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*)(?:\/[^"'\s]*)?["']/g;
  const missing = new Map();
  for (const file of walk(stage)) {
    if (!/\.(m?js|cjs)$/.test(file)) continue;
    for (const match of readFileSync(file, "utf8").matchAll(pattern)) {
      const name = match[1];
      if (name.startsWith("node:") || builtins.has(name) || allowed.has(name)) continue;
      if (!missing.has(name)) missing.set(name, relative(stage, file));
    }
  }
  if (missing.size > 0) {
    fail(
      `${manifest.name} imports packages its package.json does not depend on: ${[...missing]
        .map(([name, file]) => `${name} (in ${file})`)
        .join(", ")}; add them to "dependencies"`,
    );
  }
}

function* walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "rust" && entry.name !== "python") yield* walk(path);
    } else yield path;
  }
}

/** The host's tarball also ships the Python wheel, the Rust crate's sources and the JSON Schemas. */
function addHostExtras(stage, { wheel, crate }) {
  mkdirSync(join(stage, "python"), { recursive: true });
  cpSync(wheel, join(stage, "python", wheel.split("/").pop()));
  const crateDir = join(stage, "rust", "conductor-runtime");
  mkdirSync(crateDir, { recursive: true });
  run("tar", ["-xzf", crate, "-C", crateDir, "--strip-components=1"]);
  mkdirSync(join(stage, "schemas"), { recursive: true });
  for (const schema of ["blueprint.schema.json", "project.schema.json"]) {
    cpSync(join(root, "docs", schema), join(stage, "schemas", schema));
  }
}
