import { EncodedValue, stringifyJson } from "@conductor/sdk/protocol";
import type { ErrorObject, ValidateFunction } from "ajv";
import { platform } from "#platform";
import type { BlueprintGraph } from "../blueprint/blueprint-graph.js";
import { suggest } from "../blueprint/suggest.js";
import { ConductorError, type Diagnostic, formatDiagnostics } from "../errors.js";

type Ajv2020 = import("ajv/dist/2020.js").default;
let ajv: Ajv2020 | undefined;
const validators = new WeakMap<BlueprintGraph, Map<string, ValidateFunction>>();

/**
 * Checks the inputs of a run against the blueprint's declared inputs: unknown names (with a suggestion), missing
 * required ones, and values that do not match their JSON Schema. Gives the inputs with defaults applied.
 */
export function checkInputs(graph: BlueprintGraph, given: Record<string, unknown>): Record<string, unknown> {
  const diagnostics: Diagnostic[] = [];
  const inputs: Record<string, unknown> = {};
  const declared = graph.inputs;
  for (const name of Object.keys(given)) {
    if (!(name in declared)) {
      const hint = suggest(name, Object.keys(declared));
      diagnostics.push({
        path: `inputs.${name}`,
        message: `blueprint "${graph.id}" has no input "${name}"; its inputs are ${
          Object.keys(declared)
            .map((n) => `"${n}"`)
            .join(", ") || "(none)"
        }`,
        ...(hint === undefined ? {} : { suggestion: hint }),
      });
    }
  }
  for (const [name, input] of Object.entries(declared)) {
    const value = given[name] ?? input.default;
    if (value === undefined) {
      if (input.required) {
        diagnostics.push({
          path: `inputs.${name}`,
          message: `missing required input "${name}"${input.description ? ` (${input.description})` : ""}`,
        });
      }
      continue;
    }
    // A value given by reference to a blob (an upload through the API) is not read here to be checked: the node
    // that receives it checks it against its port, as it does any value from another runtime.
    if (Object.keys(input.schema).length > 0 && !isBlobValue(value)) {
      const simple = checkSimpleType(input.schema, value);
      if (simple === undefined) {
        const validate = validator(graph, name, input.schema);
        if (!validate(withoutBigints(value))) {
          diagnostics.push({ path: `inputs.${name}`, message: describeErrors(validate.errors ?? [], value) });
        }
      } else if (simple !== true) {
        diagnostics.push({ path: `inputs.${name}`, message: simple });
      }
    }
    inputs[name] = value;
  }
  if (diagnostics.length > 0) {
    throw new ConductorError(
      "inputs_invalid",
      `inputs of blueprint "${graph.id}" are invalid:\n${formatDiagnostics(diagnostics)}`,
      {
        diagnostics,
      },
    );
  }
  return inputs;
}

const ANNOTATIONS = new Set(["type", "description", "title", "default", "$schema", "examples"]);

/**
 * Checks a schema that only names a type (the common case) without compiling it: gives true when the value fits,
 * a message when it does not, undefined when the schema says more and needs the full validator.
 */
function checkSimpleType(schema: Record<string, unknown>, value: unknown): true | string | undefined {
  if (!Object.keys(schema).every((key) => ANNOTATIONS.has(key))) return undefined;
  const types =
    typeof schema.type === "string"
      ? [schema.type]
      : Array.isArray(schema.type)
        ? (schema.type as string[])
        : undefined;
  if (types === undefined) return true;
  const fits = types.some((type) => {
    switch (type) {
      // An integer beyond 2^53 - 1 is a bigint: an integer and a number to JSON Schema.
      case "integer":
        return Number.isInteger(value) || typeof value === "bigint";
      case "number":
        return typeof value === "number" || typeof value === "bigint";
      case "string":
      case "boolean":
        return typeof value === type;
      case "null":
        return value === null;
      case "array":
        return Array.isArray(value);
      case "object":
        return typeof value === "object" && value !== null && !Array.isArray(value);
      default:
        return true;
    }
  });
  return fits ? true : `value must be ${types.join(" or ")}; found ${stringifyJson(value).slice(0, 80)}`;
}

function validator(graph: BlueprintGraph, name: string, schema: Record<string, unknown>): ValidateFunction {
  let byName = validators.get(graph);
  if (byName === undefined) {
    byName = new Map();
    validators.set(graph, byName);
  }
  let validate = byName.get(name);
  if (validate === undefined) {
    if (ajv === undefined) {
      // Loaded on first need: most runs of a cached blueprint never compile a schema again.
      const Ajv = platform.loadAjv2020();
      ajv = new Ajv({ allErrors: true, strict: false });
    }
    const { $schema: _ignored, ...rest } = schema;
    validate = ajv.compile(rest);
    byName.set(name, validate);
  }
  return validate;
}

/**
 * The value as ajv can check it: ajv knows JSON numbers only, so each bigint (an integer beyond 2^53 - 1) is checked
 * as the nearest number, which has its type (integer) and its magnitude. The value itself is passed on unchanged.
 */
function withoutBigints(value: unknown): unknown {
  if (typeof value === "bigint") return Number(value);
  if (!holdsBigint(value)) return value;
  if (Array.isArray(value)) return value.map(withoutBigints);
  const record = value as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  for (const key in record) copy[key] = withoutBigints(record[key]);
  return copy;
}

function holdsBigint(value: unknown): boolean {
  if (typeof value === "bigint") return true;
  if (typeof value !== "object" || value === null) return false;
  for (const key in value as Record<string, unknown>)
    if (holdsBigint((value as Record<string, unknown>)[key])) return true;
  return false;
}

function describeErrors(errors: ErrorObject[], value: unknown): string {
  return errors
    .map(
      (error) =>
        `${error.instancePath === "" ? "value" : error.instancePath.slice(1).replaceAll("/", ".")} ${error.message ?? "is invalid"}`,
    )
    .concat(`found ${stringifyJson(value).slice(0, 80)}`)
    .join("; ");
}

function isBlobValue(value: unknown): boolean {
  return value instanceof EncodedValue && value.wire.kind.case === "blob";
}
