import type { NodeType, Port } from "@conductor/sdk/protocol";
import { z } from "zod";

/**
 * The node types a WebAssembly module serves, read from its manifest: a JSON file beside the module with the
 * same name and `.nodes.json` instead of `.wasm` (`checksum.wasm` → `checksum.nodes.json`). A sidecar file rather
 * than a custom section because every toolchain can ship a JSON file, while adding a custom section needs a tool
 * per language; the host never needs to run the module to learn its types. Platform-free.
 */
const jsonSchema = z.record(z.string(), z.unknown()).describe("A JSON Schema (2020-12).");

const portSchema = z.strictObject({
  schema: jsonSchema.optional().describe("The port's JSON Schema; default {} (anything)."),
  required: z
    .boolean()
    .optional()
    .describe("Inputs: whether a value must be given; outputs: always produced. Default true."),
  description: z.string().optional(),
});

export const wasmManifestSchema = z.strictObject({
  nodes: z
    .array(
      z.strictObject({
        type: z
          .string()
          .regex(/^[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$/, "a dotted lowercase name, e.g. cpp.crc32"),
        export: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
          .describe("The module's export that runs this node type: (ptr: i32, len: i32) -> i64."),
        version: z.string().optional(),
        title: z.string().optional(),
        description: z.string().optional(),
        config: jsonSchema.optional(),
        inputs: z.record(z.string(), portSchema).optional(),
        outputs: z.record(z.string(), portSchema).optional(),
        timeoutMs: z.number().int().nonnegative().optional(),
        idempotent: z.boolean().optional(),
      }),
    )
    .min(1),
});
export type WasmManifest = z.infer<typeof wasmManifestSchema>;

/** The manifest's path for a module's path. */
export function manifestPathOf(modulePath: string): string {
  return `${modulePath.replace(/\.wasm$/, "")}.nodes.json`;
}

/** A node type and the module export behind it. */
export interface WasmNodeType {
  nodeType: NodeType;
  exportName: string;
}

/** Parses a manifest's text; throws an Error naming the manifest, the field, expected and found. */
export function parseWasmManifest(text: string, manifestName: string): WasmNodeType[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(`wasm manifest ${manifestName} is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = wasmManifestSchema.safeParse(data);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (issue) => `  ${issue.path.join(".") || "(manifest)"}: ${issue.message}`,
    );
    throw new Error(`wasm manifest ${manifestName} is invalid:\n${lines.join("\n")}`);
  }
  const port = (name: string, spec: z.infer<typeof portSchema>): Port => ({
    $typeName: "conductor.runtime.v1.Port",
    name,
    schema: JSON.stringify(spec.schema ?? {}),
    required: spec.required ?? true,
    description: spec.description ?? "",
    stream: false,
  });
  return parsed.data.nodes.map((node) => ({
    exportName: node.export,
    nodeType: {
      $typeName: "conductor.runtime.v1.NodeType",
      type: node.type,
      version: node.version ?? "0.0.0",
      title: node.title ?? node.type,
      description: node.description ?? "",
      configSchema: JSON.stringify(node.config ?? { type: "object" }),
      inputs: Object.entries(node.inputs ?? {}).map(([name, spec]) => port(name, spec)),
      outputs: Object.entries(node.outputs ?? {}).map(([name, spec]) => port(name, spec)),
      flags: {
        $typeName: "conductor.runtime.v1.NodeFlags",
        idempotent: node.idempotent ?? true,
        cancellable: true,
        streaming: false,
        deterministic: false,
      },
      defaultTimeoutMs: node.timeoutMs ?? 0,
    },
  }));
}
