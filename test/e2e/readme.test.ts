/**
 * Every code block of the README, checked as written (test/fixtures/doc-blocks.ts reads them; a block with
 * `file=<path>` in its info string is written into a project of the test's own):
 *
 * - the two commands: package.json has them, and the demo they run prints the report shown (the output block);
 * - "In your own project": each line is a command of docs/getting-started.md, which test/install runs as written;
 * - the blueprint: run against a local HTTP server, down both branches of its `core.if`;
 * - the TypeScript node and the code that runs a blueprint with it: `node run.ts`;
 * - the Python node: served by the Python runtime, on the example sales data;
 * - the Rust node: the host builds the crate (its Cargo.toml is the test's, unoptimised) and runs it in a
 *   blueprint of a project of its own;
 * - the browser client: run by Node against `conductor serve` of the demo project;
 * - the layout: every folder it lists exists.
 *
 * What the test adds, because the README leaves it to the reader: the project's conductor.yaml, the blueprints
 * that use the Python and Rust nodes, flows/greet.yaml for run.ts, the Rust crate's Cargo.toml, and the server's
 * port (0, replacing the README's 7070). A block none of the above handles fails the test, so a new block needs a
 * check.
 */
import { execFile } from "node:child_process";
import { statSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DocBlock, docBlocks, expectOutput } from "../fixtures/doc-blocks.ts";
import { startServe } from "../fixtures/serve-process.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const cli = join(root, "host", "bin", "conductor.js");
const run = promisify(execFile);

function conductor(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  return run(process.execPath, [cli, ...args], { cwd, env, maxBuffer: 16 << 20 });
}

describe("the README", () => {
  let readme: string;
  let blocks: DocBlock[];
  let project: string;
  const checked = new Set<DocBlock>();
  const block = (predicate: (candidate: DocBlock) => boolean, what: string): DocBlock => {
    const found = blocks.find(predicate);
    if (found === undefined) throw new Error(`the README has no ${what} block`);
    checked.add(found);
    return found;
  };
  const fileBlock = (path: string) => block((candidate) => candidate.attributes.file === path, path);

  beforeAll(async () => {
    readme = await readFile(join(root, "README.md"), "utf8");
    blocks = docBlocks(readme);
    project = await mkdtemp(join(tmpdir(), "readme-"));
    await writeFile(join(project, "package.json"), JSON.stringify({ private: true, type: "module" }));
    await symlink(join(root, "node_modules"), join(project, "node_modules"));
    for (const candidate of blocks) {
      if (typeof candidate.attributes.file !== "string") continue;
      await mkdir(dirname(join(project, candidate.attributes.file)), { recursive: true });
      await writeFile(join(project, candidate.attributes.file), `${candidate.code}\n`);
    }
    await writeFile(
      join(project, "conductor.yaml"),
      `conductor: project/v1
blueprints: [flows]
runtimes:
  python:
    kind: python
    venv: ${join(root, "runtimes/python/.venv")}
    path: [python, ${join(root, "runtimes/python/examples")}]
    modules: [top_regions, sales_nodes]
`,
    );
    // The Rust node's project apart, so that running the Python node does not wait for the crate's build.
    await mkdir(join(project, "rust-project"));
    await writeFile(
      join(project, "rust-project/conductor.yaml"),
      "conductor: project/v1\nruntimes:\n  rust: { kind: rust, package: ../rust, binary: readme-rust }\n",
    );
    await writeFile(
      join(project, "flows/greet.yaml"),
      `conductor: blueprint/v1
inputs: { name: { schema: { type: string } } }
outputs: { text: greet.text }
nodes:
  greet: { type: demo.greet, inputs: { name: inputs.name } }
`,
    );
    await writeFile(
      join(project, "flows/regions.blueprint.yaml"),
      `conductor: blueprint/v1
outputs: { regions: top.result }
nodes:
  load: { type: py.read-csv, config: { path: ${join(root, "examples/data/sales.csv")} } }
  top: { type: py.top-regions, inputs: { table: load.table } }
`,
    );
    await writeFile(
      join(project, "rust-project/hash.blueprint.yaml"),
      `conductor: blueprint/v1
outputs: { digest: hash.digest }
nodes:
  hash: { type: rs.sha256, inputs: { text: { value: "abc" } } }
`,
    );
    await writeFile(
      join(project, "rust/Cargo.toml"),
      `[package]
name = "readme-rust"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
conductor-runtime = { path = "${join(root, "runtimes/rust/conductor-runtime")}" }
schemars = "1"
serde = { version = "1", features = ["derive"] }
sha2 = "0.10"
tokio = { version = "1", features = ["rt-multi-thread", "macros"] }
`,
    );
  });

  afterAll(async () => {
    await rm(project, { recursive: true, force: true });
  });

  it("runs the demo of its two commands and prints the report it shows", async () => {
    const commands = block((candidate) => candidate.code.includes("npm run demo"), "two commands");
    expect(commands.code.split("\n").map((line) => line.split("#")[0]!.trim())).toEqual([
      "npm run demo",
      "npm test",
    ]);
    const scripts = (
      JSON.parse(await readFile(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }
    ).scripts;
    expect(scripts.test).toBe("bash scripts/setup.sh && bash scripts/check.sh");
    // The demo script is "<set-up> && <run>": the set-up already ran (npm test runs it first); run the rest as written.
    const demo = scripts.demo!.slice(scripts.demo!.indexOf("&&") + 2).trim();
    expect(demo).toBe("cd examples/demo && node ../../host/bin/conductor.js run demo.blueprint.yaml");
    const { stdout } = await run("bash", ["-c", demo], { cwd: root });
    const shown = block((candidate) => candidate.attributes.output === true, "demo output");
    expectOutput(
      stdout,
      shown.code
        .split("\n")
        .filter((line) => !line.startsWith("completed"))
        .join("\n"),
      "README.md",
    );
  });

  it("installs in your own project with commands docs/getting-started.md runs", async () => {
    const own = block((candidate) => candidate.code.includes("npx conductor init"), "own project");
    const guide = docBlocks(await readFile(join(root, "docs/getting-started.md"), "utf8"))
      .filter((candidate) => candidate.language === "sh")
      .flatMap((candidate) => candidate.code.split("\n"));
    for (const line of own.code.split("\n")) expect(guide).toContain(line);
  });

  it("has a blueprint that summarises a popular repository and skips the summary otherwise", async () => {
    fileBlock("flows/popular.blueprint.yaml");
    const server: Server = createServer((request, response) => {
      response.setHeader("content-type", "application/json");
      response.end(
        JSON.stringify(
          request.url === "/popular" ? { name: "conductor", stars: 150 } : { name: "x", stars: 3 },
        ),
      );
    });
    await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const popular = await conductor(
        ["run", "flows/popular.blueprint.yaml", "-i", `url=${base}/popular`, "--no-journal"],
        project,
      );
      expect(popular.stdout).toBe("summary: conductor is popular\n");
      const quiet = await conductor(
        ["run", "flows/popular.blueprint.yaml", "-i", `url=${base}/quiet`, "--no-journal", "--json"],
        project,
      );
      const result = JSON.parse(quiet.stdout) as {
        status: string;
        outputs: object;
        nodes: Record<string, { status: string }>;
      };
      expect(result.status).toBe("completed");
      expect(result.outputs).toEqual({});
      expect(result.nodes.summarize?.status).toBe("skipped");
    } finally {
      await new Promise((closed) => server.close(closed));
    }
  });

  it("has a TypeScript node that runs from code", async () => {
    fileBlock("nodes/greet.ts");
    fileBlock("run.ts");
    const { stdout } = await run(process.execPath, ["run.ts"], { cwd: project });
    expect(stdout).toBe("completed { text: 'hello, Ada' }\n");
  });

  it("has a Python node the Python runtime serves", async () => {
    fileBlock("python/top_regions.py");
    const { stdout } = await conductor(
      ["run", "flows/regions.blueprint.yaml", "--json", "--no-journal"],
      project,
    );
    const table = (
      JSON.parse(stdout) as {
        outputs: { regions: { $table: { rows: number; data: { revenue: number }[] } } };
      }
    ).outputs.regions.$table;
    expect(table.rows).toBe(3);
    const revenues = table.data.map((row) => row.revenue);
    expect(revenues).toEqual([...revenues].sort((a, b) => b - a));
  });

  it(
    "has a Rust node that builds into a runtime and hashes its input",
    async () => {
      fileBlock("rust/src/main.rs");
      const env = {
        ...process.env,
        // A cache of its own, so the crates.io dependencies build once; conductor-runtime is this repository's.
        // Unoptimised, because this checks what the node does, not how fast: an optimised first build of tonic and
        // arrow takes most of an hour on a busy 2-core machine.
        CARGO_TARGET_DIR: join(root, "runtimes/rust/target/readme"),
        CARGO_PROFILE_RELEASE_OPT_LEVEL: "0",
      };
      // Built here, because the host builds a Rust runtime only when its binary is missing, and the cache keeps the
      // binary of the README's previous Rust code.
      await run("cargo", ["build", "--release"], { cwd: join(project, "rust"), env });
      const { stdout } = await conductor(
        ["run", "hash.blueprint.yaml", "--no-journal"],
        join(project, "rust-project"),
        env,
      );
      expect(stdout).toBe("digest: ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n");
    },
    30 * 60_000,
  );

  it("has a browser client that starts an execution and watches it to the end", async () => {
    const client = fileBlock("client.ts");
    const serve = await startServe(join(root, "examples/demo"));
    try {
      const { url } = serve;
      const token = (await readFile(join(root, "examples/demo/.conductor/api-token"), "utf8")).trim();
      await writeFile(
        join(project, "client.ts"),
        client.code.replace("http://127.0.0.1:7070", url).replace('"<token>"', JSON.stringify(token)),
      );
      const { stdout } = await run(process.execPath, ["client.ts"], { cwd: project });
      const kinds = stdout
        .trim()
        .split("\n")
        .map((line) => line.split(" ").at(-1));
      expect(kinds[0]).toBe("executionStarted");
      expect(kinds).toContain("nodeCompleted");
      expect(kinds.at(-1)).toBe("executionFinished");
    } finally {
      await serve.stop();
    }
  });

  it("lists folders that exist", () => {
    const layout = block((candidate) => candidate.attributes.layout === true, "layout");
    for (const line of layout.code.split("\n")) {
      const folder = line.split(/\s+/)[0]!;
      expect({
        folder,
        directory: statSync(join(root, folder), { throwIfNoEntry: false })?.isDirectory(),
      }).toEqual({
        folder,
        directory: true,
      });
    }
  });

  // Last, so that it names every block no test above looked at.
  it("has no code block that no test checks", () => {
    const unchecked = blocks.filter((candidate) => !checked.has(candidate));
    expect(unchecked.map((candidate) => `line ${candidate.line}: ${candidate.language}`)).toEqual([]);
  });
});
