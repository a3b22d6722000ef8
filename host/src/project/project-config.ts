import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import { ConductorError } from "../errors.js";
import { describeSchemaIssue } from "../schema-issue.js";

/**
 * The project file, `conductor.yaml`: which TypeScript node modules run in the host, which runtimes to start
 * (the Node sidecar, Python, Rust or any command speaking the ABI) and where the blueprints are.
 */
const nodeRuntime = z.strictObject({
  kind: z.literal("node"),
  modules: z
    .array(z.string())
    .min(1)
    .describe("TypeScript/JavaScript modules exporting defineNode() results."),
  maxConcurrency: z.number().int().positive().optional(),
});

const pythonRuntime = z.strictObject({
  kind: z.literal("python"),
  modules: z.array(z.string()).min(1).describe("Python modules to import, e.g. sales_nodes."),
  path: z.array(z.string()).optional().describe("Directories added to sys.path, relative to the project."),
  venv: z
    .string()
    .optional()
    .describe("The virtual environment; created on first use. Default .conductor/venv-<name>."),
  interpreter: z.string().optional().describe("The Python (>= 3.11) that creates the venv. Default python3."),
  requirements: z.array(z.string()).optional().describe("Extra pip requirements, e.g. polars>=1."),
  runtimePackage: z
    .string()
    .optional()
    .describe("Where pip finds conductor-runtime; default the repository's runtimes/python."),
  maxConcurrency: z.number().int().positive().optional(),
});

const rustRuntime = z.strictObject({
  kind: z.literal("rust"),
  package: z.string().optional().describe("A cargo package or workspace directory to build with --release."),
  binary: z.string().describe("The binary name in the package, or a path to a built binary."),
});

const commandRuntime = z.strictObject({
  kind: z.literal("command"),
  command: z.array(z.string()).min(1).describe("The program and its arguments."),
  env: z.record(z.string(), z.string()).optional(),
});

export const runtimeSpecSchema = z.discriminatedUnion("kind", [
  nodeRuntime,
  pythonRuntime,
  rustRuntime,
  commandRuntime,
]);
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

export const projectSchema = z.strictObject({
  conductor: z.literal("project/v1"),
  blueprints: z
    .array(z.string())
    .optional()
    .describe("Blueprint files or directories. Default: the project directory."),
  nodes: z.array(z.string()).optional().describe("TypeScript node modules run in the host process."),
  runtimes: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/), runtimeSpecSchema).optional(),
  access: projectAccessSchema.optional(),
});

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
  };
}
