import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import { ConductorError } from "../errors.js";
import { type ScheduleSpec, schedulesSchema } from "../schedules/schedule-config.js";
import { describeSchemaIssue } from "../schema-issue.js";

/**
 * The project file, `conductor.yaml`: which TypeScript node modules run in the host, which runtimes to start
 * (the Node sidecar, Python, Rust or any command speaking the ABI) and where the blueprints are. Every field is
 * documented in docs/project.md; the descriptions below are what editors show (docs/project.schema.json).
 */
const maxConcurrency = z
  .number()
  .int()
  .positive()
  .describe(
    "Most invocations the runtime runs at once; beyond it the host queues. Default: what it declares.",
  );

/** The variables a runtime process gets on top of the host's environment (every kind that is a process). */
const runtimeEnv = z
  .record(z.string(), z.string())
  .optional()
  .describe(
    "Environment variables added to the host's environment for this runtime's process (they win over the host's), e.g. { OTEL_SERVICE_NAME: sales-nodes }.",
  );

const nodeRuntime = z
  .strictObject({
    kind: z.literal("node").describe("The Node sidecar: TypeScript/JavaScript nodes in a child process."),
    modules: z
      .array(z.string())
      .min(1)
      .describe(
        "TypeScript/JavaScript modules exporting defineNode() results: paths relative to the project (./nodes/x.ts) or package names.",
      ),
    maxConcurrency: maxConcurrency.optional(),
    env: runtimeEnv,
  })
  .describe("A Node sidecar runtime: the same node modules as nodes:, isolated in their own process.");

const pythonRuntime = z
  .strictObject({
    kind: z.literal("python").describe("A Python runtime (conductor-runtime) in a virtual environment."),
    modules: z
      .array(z.string())
      .min(1)
      .describe(
        "Python modules to import, by module name (e.g. sales_nodes); their @node functions are served.",
      ),
    path: z
      .array(z.string())
      .optional()
      .describe("Directories added to sys.path, relative to the project, e.g. [python]."),
    venv: z
      .string()
      .optional()
      .describe(
        "The virtual environment, relative to the project; created on first use (or by conductor setup). Default .conductor/venv-<runtime name>.",
      ),
    interpreter: z
      .string()
      .optional()
      .describe("The Python (>= 3.11) that creates the venv. Default python3."),
    requirements: z
      .array(z.string())
      .optional()
      .describe(
        'pip requirements installed into the venv with conductor-runtime, e.g. ["pandas>=2.2", "conductor-runtime[data]"]; installed again when this list changes.',
      ),
    runtimePackage: z
      .string()
      .optional()
      .describe(
        "What pip installs as conductor-runtime: a wheel, a directory or a requirement (conductor-runtime==0.1.0); paths are relative to the project. Default: the wheel shipped inside @conductor/host (in a checkout of the Conductor repository, its runtimes/python).",
      ),
    maxConcurrency: maxConcurrency.optional(),
    env: runtimeEnv,
  })
  .describe("A Python runtime: the host creates its venv, installs conductor-runtime and the requirements.");

const rustRuntime = z
  .strictObject({
    kind: z.literal("rust").describe("A Rust runtime: a binary built on the conductor-runtime crate."),
    package: z
      .string()
      .optional()
      .describe(
        "A cargo package or workspace directory, relative to the project; the host builds binary with cargo build --release when it is missing (or on conductor setup --force).",
      ),
    binary: z
      .string()
      .describe(
        "The binary's name in package; without package, a path to a built binary, relative to the project.",
      ),
    env: runtimeEnv,
  })
  .describe("A Rust runtime: a binary of the project's own crate, which depends on conductor-runtime.");

const commandRuntime = z
  .strictObject({
    kind: z.literal("command").describe("Any program speaking the runtime ABI (docs/protocol.md)."),
    command: z
      .array(z.string())
      .min(1)
      .describe(
        "The program and its arguments, e.g. [./bin/my-runtime, --verbose]; run in the project directory.",
      ),
    env: runtimeEnv,
  })
  .describe("A runtime started by a command of your own; it must speak the runtime ABI.");

const wasmRuntime = z
  .strictObject({
    kind: z
      .literal("wasm")
      .describe("WebAssembly modules run sandboxed inside the host (docs/webassembly.md)."),
    modules: z
      .array(z.string().regex(/\.wasm$/, "a path ending in .wasm"))
      .min(1)
      .describe(
        "WebAssembly modules, relative to the project; each has a manifest beside it (x.wasm → x.nodes.json) declaring its node types.",
      ),
    memoryMb: z
      .number()
      .int()
      .positive()
      .max(4096)
      .optional()
      .describe("The memory cap of one instance, in MiB. Default 64."),
    timeLimitMs: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe(
        "The time limit of one call in milliseconds (a node's lower timeout wins); past it the instance's worker is terminated. 0 for none. Default 30000.",
      ),
    grant: z
      .array(z.enum(["clock", "random"]))
      .optional()
      .describe("What modules may use beyond computing: the clock, random numbers. Default: nothing."),
    maxConcurrency: maxConcurrency.optional(),
  })
  .describe("A WebAssembly runtime: modules in C, C++, AssemblyScript, Rust... sandboxed in worker threads.");

export const runtimeSpecSchema = z
  .discriminatedUnion("kind", [nodeRuntime, pythonRuntime, rustRuntime, commandRuntime, wasmRuntime])
  .describe("One runtime: kind node, python, rust, command or wasm.");
export type RuntimeSpec = z.infer<typeof runtimeSpecSchema>;

/**
 * What the project lets blueprints do beyond running their nodes: which directories the core file nodes may use,
 * who may run core.shell, and which webhooks answer without a token. See docs/security.md.
 */
export const projectAccessSchema = z.strictObject({
  files: z
    .array(z.string().min(1))
    .optional()
    .describe(
      "Directories core.file-read and core.file-write may use, relative to the project. Default: the project directory. Conductor's own files (.conductor/, conductor.yaml) are never open to them.",
    ),
  shell: z
    .enum(["none", "project", "any"])
    .optional()
    .describe(
      'Which blueprints may run core.shell: "none"; "project" (default), the blueprints of the project; "any", blueprints sent inline over the API too.',
    ),
  publicWebhooks: z
    .array(z.string().min(1))
    .optional()
    .describe(
      "Ids of blueprints whose webhook (POST /hooks/<id>) answers without a token. Every input of such a blueprint must declare a schema.",
    ),
});
export type ProjectAccess = z.infer<typeof projectAccessSchema>;

export const projectSchema = z
  .strictObject({
    conductor: z.literal("project/v1").describe("The format of this file: project/v1."),
    blueprints: z
      .array(z.string())
      .optional()
      .describe(
        "Blueprint files or directories, relative to the project, searched for files saying conductor: blueprint/v1. Default: the project directory.",
      ),
    nodes: z
      .array(z.string())
      .optional()
      .describe(
        "TypeScript/JavaScript node modules run inside the host process (no encoding, no process hop): paths relative to the project or package names.",
      ),
    runtimes: z
      .record(
        z
          .string()
          .regex(/^[a-z][a-z0-9-]*$/)
          .describe("The runtime's name: lowercase letters, digits and dashes; nodes pick it with runtime:."),
        runtimeSpecSchema,
      )
      .optional()
      .describe("The runtimes the host starts as child processes, by name."),
    access: projectAccessSchema
      .optional()
      .describe(
        "What blueprints may do beyond running their nodes: file directories, core.shell, public webhooks. See docs/security.md.",
      ),
    schedules: schedulesSchema.optional(),
  })
  .describe("A Conductor project: its blueprints, node modules and runtimes. See docs/project.md.");

/** The JSON Schema (2020-12) of `conductor.yaml`, for editors: `conductor schema project`, docs/project.schema.json. */
export function projectJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(projectSchema, { target: "draft-2020-12", io: "input" }),
    $id: "https://conductor.dev/schemas/project-v1.json",
    title: "Conductor project (conductor.yaml)",
  };
}

/** A project: its directory and its configuration. */
export interface Project {
  dir: string;
  /** The file it was read from, or undefined for the default project. */
  file?: string;
  blueprints: string[];
  nodes: string[];
  runtimes: Record<string, RuntimeSpec>;
  /** What blueprints may do beyond running their nodes (conductor.yaml `access`); defaults when absent. */
  access?: ProjectAccess;
  /** Blueprints started on a cron schedule by `conductor serve` (conductor.yaml `schedules`), by schedule id. */
  schedules?: Record<string, ScheduleSpec>;
}

export const PROJECT_FILE = "conductor.yaml";

/**
 * Finds the project a blueprint belongs to: the nearest `conductor.yaml` in its directory or above. Without one,
 * the project is the blueprint's directory with only the built-in nodes.
 */
export async function findProject(startDir: string): Promise<Project> {
  let dir = resolve(startDir);
  for (;;) {
    const file = join(dir, PROJECT_FILE);
    const text = await readFile(file, "utf8").catch(() => undefined);
    if (text !== undefined) return parseProject(text, file);
    const parent = dirname(dir);
    if (parent === dir) return { dir: resolve(startDir), blueprints: ["."], nodes: [], runtimes: {} };
    dir = parent;
  }
}

/** Parses a project file's text. */
export function parseProject(text: string, file: string): Project {
  let data: unknown;
  try {
    data = parse(text);
  } catch (error) {
    throw new ConductorError(
      "project_invalid",
      `project file ${file} is not valid YAML: ${(error as Error).message}`,
    );
  }
  const parsed = projectSchema.safeParse(data);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (issue) => `  ${issue.path.join(".") || "(project)"}: ${describeSchemaIssue(issue)}`,
    );
    throw new ConductorError("project_invalid", `project file ${file} is invalid:\n${lines.join("\n")}`);
  }
  return {
    dir: dirname(file),
    file,
    blueprints: parsed.data.blueprints ?? ["."],
    nodes: parsed.data.nodes ?? [],
    runtimes: parsed.data.runtimes ?? {},
    ...(parsed.data.access === undefined ? {} : { access: parsed.data.access }),
    ...(parsed.data.schedules === undefined ? {} : { schedules: parsed.data.schedules }),
  };
}
