import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import type { ConfigDiagnostic } from "../blueprint/validate-blueprint.js";

/**
 * JSON Schema checks of the values a WebAssembly node receives and gives. A port whose schema says
 * `contentEncoding: "binary"` holds bytes (a Uint8Array), as the sdk's `values.bytes()` declares it; every other
 * schema is checked by Ajv. Platform-free (Ajv imported directly, not through node:module).
 */
let ajv: Ajv2020 | undefined;
const compiled = new Map<string, ValidateFunction | string>();
/** Whether a schema declares bytes, by its text. */
const bytesSchemas = new Map<string, boolean>();

/** Why the value does not match the schema (lowercase, with expected vs found), or undefined when it does. */
export function checkValue(schemaText: string, value: unknown): string | undefined {
  // Parsed once per schema: a call checks each of its inputs and outputs (docs/webassembly.md, "Call overhead").
  let binary = bytesSchemas.get(schemaText);
  if (binary === undefined) {
    const schema = parse(schemaText);
    binary = typeof schema === "object" && schema.contentEncoding === "binary";
    bytesSchemas.set(schemaText, binary);
  }
  if (binary) {
    return value instanceof Uint8Array ? undefined : `expected bytes (a Uint8Array), found ${show(value)}`;
  }
  const validate = validatorOf(schemaText);
  if (typeof validate === "string")
    return `cannot be checked: its schema is not a usable JSON Schema (${validate})`;
  if (validate(value)) return undefined;
  return (validate.errors ?? []).map((error) => describe(error)).join("; ");
}

/** Config diagnostics in the host's form, dotted paths. */
export function checkValueDiagnostics(schemaText: string, value: unknown): ConfigDiagnostic[] {
  const validate = validatorOf(schemaText);
  if (typeof validate === "string")
    return [{ path: "", message: `the config schema is not a usable JSON Schema (${validate})` }];
  if (validate(value)) return [];
  return (validate.errors ?? []).map((error) => ({
    path: error.instancePath.split("/").slice(1).join("."),
    message: describe(error, false),
  }));
}

function parse(text: string): Record<string, unknown> | string {
  if (text === "") return {};
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    return (error as Error).message;
  }
}

function validatorOf(schemaText: string): ValidateFunction | string {
  let validate = compiled.get(schemaText);
  if (validate === undefined) {
    const schema = parse(schemaText);
    if (typeof schema === "string") validate = schema;
    else {
      try {
        ajv ??= new Ajv2020({ allErrors: true, strict: false, validateFormats: false, verbose: true });
        const { $schema: _dialect, ...rest } = schema;
        validate = ajv.compile(rest);
      } catch (error) {
        validate = (error as Error).message;
      }
    }
    compiled.set(schemaText, validate);
  }
  return validate;
}

function describe(error: ErrorObject, withPath = true): string {
  const at =
    error.instancePath === "" || !withPath ? "" : `at ${error.instancePath.slice(1).replaceAll("/", ".")}: `;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "required":
      return `${at}missing required field "${String(params.missingProperty)}"`;
    case "additionalProperties":
      return `${at}unknown field "${String(params.additionalProperty)}"`;
    case "type":
      return `${at}expected ${String(params.type)}, found ${show(error.data)}`;
    default:
      return `${at}${error.message ?? "is invalid"}`;
  }
}

function show(value: unknown): string {
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
