import { createRequire } from "node:module";
import type { NodeType } from "@conductor/sdk/protocol";
import type { ErrorObject, ValidateFunction } from "ajv";
import { suggest } from "../blueprint/suggest.js";
import type { ConfigDiagnostic } from "../blueprint/validate-blueprint.js";

type Ajv2020 = import("ajv/dist/2020.js").default;
let ajv: Ajv2020 | undefined;
const compiled = new Map<string, ValidateFunction | string>();

/**
 * Checks a node's config against its node type's `config_schema` (JSON Schema 2020-12), for runtimes that do not
 * implement ValidateConfig (they answer UNIMPLEMENTED; docs/protocol.md §2 makes the RPC optional). A runtime that
 * implements it is asked instead, because it can check more than a schema says. Paths are dotted, like the
 * runtimes' diagnostics: `headers.accept`, `items.3`.
 */
export function checkConfigAgainstSchema(
  nodeType: NodeType,
  config: Record<string, unknown>,
): ConfigDiagnostic[] {
  const validate = validatorOf(nodeType.configSchema);
  if (typeof validate === "string") {
    return [
      {
        path: "",
        message: `node type "${nodeType.type}" has a config_schema that is not a usable JSON Schema (${validate}); fix the runtime that serves it`,
      },
    ];
  }
  if (validate(config)) return [];
  return (validate.errors ?? []).map((error) => describe(error, config));
}

function validatorOf(schemaText: string): ValidateFunction | string {
  let validate = compiled.get(schemaText);
  if (validate === undefined) {
    try {
      const schema = schemaText === "" ? {} : (JSON.parse(schemaText) as Record<string, unknown>);
      if (ajv === undefined) {
        // Loaded on first need: most runtimes implement ValidateConfig and never need it.
        const Ajv = createRequire(import.meta.url)("ajv/dist/2020.js").default as new (
          options: object,
        ) => Ajv2020;
        // verbose: each error carries the schema it failed, whose properties name what a misspelt key meant.
        ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false, verbose: true });
      }
      // Because Ajv refuses a `$schema` naming a draft it has not loaded; the keywords checked mean the same.
      const { $schema: _dialect, ...rest } = schema;
      validate = ajv.compile(rest);
    } catch (error) {
      validate = (error as Error).message;
    }
    compiled.set(schemaText, validate);
  }
  return validate;
}

function describe(error: ErrorObject, config: unknown): ConfigDiagnostic {
  const at = error.instancePath
    .split("/")
    .slice(1)
    .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"));
  const found = valueAt(config, at);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "required":
      return {
        path: [...at, String(params.missingProperty)].join("."),
        message: `missing required field "${String(params.missingProperty)}"`,
      };
    case "additionalProperties": {
      const key = String(params.additionalProperty);
      const declared = Object.keys(
        (error.parentSchema?.properties as Record<string, unknown> | undefined) ?? {},
      );
      const hint = suggest(key, declared);
      return {
        path: [...at, key].join("."),
        message: `unknown field "${key}"${hint === undefined ? (declared.length === 0 ? "" : `; expected one of ${declared.join(", ")}`) : `; ${hint}`}`,
      };
    }
    case "type":
      return { path: at.join("."), message: `expected ${String(params.type)}, found ${show(found)}` };
    case "enum":
      return {
        path: at.join("."),
        message: `expected one of ${(params.allowedValues as unknown[]).map(show).join(", ")}, found ${show(found)}`,
      };
    case "const":
      return { path: at.join("."), message: `expected ${show(params.allowedValue)}, found ${show(found)}` };
    default:
      return { path: at.join("."), message: `${error.message ?? "is invalid"}, found ${show(found)}` };
  }
}

function valueAt(value: unknown, path: string[]): unknown {
  let current = value;
  for (const part of path) {
    if (typeof current !== "object" || current === null) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? "nothing" : text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
