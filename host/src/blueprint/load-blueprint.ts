import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { parseDocument } from "yaml";
import { ConductorError, type Diagnostic } from "../errors.js";
import { describeSchemaIssue } from "../schema-issue.js";
import { EXACT_INTEGERS, safeIntegersAsNumbers } from "../yaml-integers.js";
import { blueprintSchema, type ParsedBlueprintDocument } from "./blueprint-schema.js";

/** A blueprint read from a file (or given as data), checked against the file format but not yet validated. */
export interface LoadedBlueprint {
  id: string;
  /** Where it came from, for messages; `<inline>` when given as data. */
  source: string;
  document: ParsedBlueprintDocument;
}

/** Reads a blueprint from a `.yaml`, `.yml` or `.json` file. */
export async function loadBlueprintFile(path: string): Promise<LoadedBlueprint> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ConductorError(
      "blueprint_unreadable",
      `cannot read blueprint ${path}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return parseBlueprint(text, path);
}

/**
 * Parses blueprint text (YAML or JSON; JSON is YAML). Duplicate keys (a node id given twice) are errors, which a
 * plain JSON.parse would silently hide by keeping the last one.
 */
export function parseBlueprint(text: string, source = "<inline>"): LoadedBlueprint {
  // Integers beyond 2^53 - 1 (a `{ value: … }` literal, a config field) keep every digit, as bigint.
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true, ...EXACT_INTEGERS });
  if (document.errors.length > 0) {
    const diagnostics = document.errors.map((error): Diagnostic => {
      const line = error.linePos?.[0];
      const where = line === undefined ? "" : ` (line ${line.line}, column ${line.col})`;
      const duplicate = /Map keys must be unique/.test(error.message);
      const key = text.slice(error.pos[0], error.pos[1]).trim();
      return {
        path: "",
        message: duplicate
          ? `duplicate key "${key}"${where}: every node id, port and field may appear once`
          : `${error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}${where}`,
      };
    });
    throw new ConductorError(
      "blueprint_unreadable",
      `blueprint ${source} is not valid YAML or JSON:\n${diagnostics.map((d) => `  ${d.message}`).join("\n")}`,
      { diagnostics },
    );
  }
  return fromData(document.toJS({ reviver: safeIntegersAsNumbers }), source);
}

/** Checks data against the blueprint file format. */
export function fromData(data: unknown, source = "<inline>"): LoadedBlueprint {
  const parsed = blueprintSchema.safeParse(data);
  if (!parsed.success) {
    const diagnostics = parsed.error.issues.map(
      (issue): Diagnostic => ({
        path: issue.path.map(String).join("."),
        message: describeFormatIssue(issue),
      }),
    );
    throw new ConductorError(
      "blueprint_invalid",
      `blueprint ${source} does not follow the blueprint/v1 format:\n${diagnostics.map((d) => `  ${d.path || "(blueprint)"}: ${d.message}`).join("\n")}`,
      { diagnostics },
    );
  }
  const id = parsed.data.id ?? (source === "<inline>" ? "blueprint" : basename(source).replace(/\..*$/, ""));
  return { id, source, document: parsed.data };
}

function describeFormatIssue(issue: import("zod").z.core.$ZodIssue): string {
  if (issue.code === "invalid_value" && issue.path[0] === "conductor") {
    return "expected conductor: blueprint/v1 (the format version) at the top of the file";
  }
  return describeSchemaIssue(issue);
}
