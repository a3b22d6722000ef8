import { createRequire } from "node:module";
import { create } from "@bufbuild/protobuf";
import { Diagnostic_Severity, ValidateConfigRequestSchema } from "@conductor/sdk/protocol";
import type { ValidateFunction } from "ajv";
import { isCallError } from "../abi-client.js";
import { CheckFailure, type ConformanceCheck, expectThat, show } from "../conformance-check.js";
import { json } from "../kit-messages.js";
import { KITCHEN_SINK } from "../kitchen-sink-spec.js";
import type { RuntimeFixture } from "../runtime-fixture.js";

type Ajv2020 = import("ajv/dist/2020.js").default;

/** ListNodeTypes and the kitchen sink's descriptions (docs/protocol.md §2, §5) and ValidateConfig. */
export const discoveryChecks: ConformanceCheck[] = [
  {
    id: "discovery.kitchen-sink",
    title: "ListNodeTypes lists every conformance.* node type, each with a version",
    async run({ shared }) {
      const { nodeTypes } = await shared();
      const missing = KITCHEN_SINK.map((entry) => entry.type).filter((type) => !nodeTypes.has(type));
      expectThat(
        missing.length === 0,
        `node types ${KITCHEN_SINK.map((entry) => entry.type).join(", ")}`,
        () => `no ${missing.join(", ")} among ${[...nodeTypes.keys()].join(", ") || "(none)"}`,
      );
      const unversioned = [...nodeTypes.values()].filter((nodeType) => nodeType.version === "");
      expectThat(
        unversioned.length === 0,
        "a version on every node type",
        () => `none on ${unversioned.map((nodeType) => nodeType.type).join(", ")}`,
      );
    },
  },
  {
    id: "discovery.ports-and-flags",
    title: "each conformance.* node type has the ports, required inputs and flags of docs/protocol.md §5",
    async run({ shared }) {
      const { nodeTypes } = await shared();
      const problems: string[] = [];
      for (const entry of KITCHEN_SINK) {
        const nodeType = nodeTypes.get(entry.type);
        if (nodeType === undefined) {
          problems.push(`${entry.type} is not listed`);
          continue;
        }
        const inputs = nodeType.inputs.map((port) => port.name);
        const outputs = nodeType.outputs.map((port) => port.name);
        if (show(inputs) !== show(entry.inputs)) {
          problems.push(`${entry.type} inputs must be ${show(entry.inputs)}, found ${show(inputs)}`);
        }
        if (show(outputs) !== show(entry.outputs)) {
          problems.push(`${entry.type} outputs must be ${show(entry.outputs)}, found ${show(outputs)}`);
        }
        for (const name of entry.requiredInputs ?? []) {
          if (nodeType.inputs.find((port) => port.name === name)?.required !== true) {
            problems.push(`${entry.type} input "${name}" must be required`);
          }
        }
        for (const flag of entry.flags ?? []) {
          if (nodeType.flags?.[flag] !== true) problems.push(`${entry.type} must have the flag ${flag}`);
        }
      }
      expectThat(problems.length === 0, "the kitchen sink's ports and flags", () => problems.join("; "));
    },
  },
  {
    id: "discovery.schemas",
    title: "the JSON Schemas of configs and ports are valid and accept and reject what the spec says",
    async run({ shared }) {
      const { nodeTypes } = await shared();
      const problems: string[] = [];
      for (const entry of KITCHEN_SINK) {
        const nodeType = nodeTypes.get(entry.type);
        if (nodeType === undefined) continue;
        const config = compile(nodeType.configSchema, `${entry.type} config_schema`, problems);
        if (config !== undefined) {
          for (const sample of entry.configs.accept) {
            if (!config(sample)) problems.push(`${entry.type} config_schema must accept ${show(sample)}`);
          }
          for (const sample of entry.configs.reject) {
            if (config(sample)) problems.push(`${entry.type} config_schema must reject ${show(sample)}`);
          }
        }
        for (const port of [...nodeType.inputs, ...nodeType.outputs]) {
          const validate = compile(port.schema, `${entry.type} port "${port.name}" schema`, problems);
          const samples = entry.inputValues?.[port.name];
          if (validate === undefined || samples === undefined || !nodeType.inputs.includes(port)) continue;
          for (const sample of samples.accept) {
            if (!validate(sample))
              problems.push(`${entry.type} input "${port.name}" must accept ${show(sample)}`);
          }
          for (const sample of samples.reject) {
            if (validate(sample))
              problems.push(`${entry.type} input "${port.name}" must reject ${show(sample)}`);
          }
        }
      }
      expectThat(problems.length === 0, "JSON Schemas (2020-12) as docs/protocol.md §5 describes", () =>
        problems.join("; "),
      );
    },
  },
  {
    id: "validate-config.valid",
    title:
      "ValidateConfig of a valid config answers no diagnostics (or UNIMPLEMENTED: the host checks the schema)",
    async run({ shared }) {
      const fixture = await shared();
      const diagnostics = await validateConfig(fixture, "conformance.add", { offset: 1 });
      if (diagnostics === "unimplemented") return;
      expectThat(diagnostics.length === 0, "no diagnostics for conformance.add config {offset: 1}", () =>
        show(diagnostics.map((d) => ({ path: d.path, message: d.message }))),
      );
    },
  },
  {
    id: "validate-config.invalid",
    title: "ValidateConfig of an invalid config answers error diagnostics at the dotted path of each problem",
    async run({ shared }) {
      const fixture = await shared();
      for (const [type, config, path] of [
        ["conformance.add", { offset: "ten" }, "offset"],
        ["conformance.produce", { kind: "xml" }, "kind"],
      ] as const) {
        const diagnostics = await validateConfig(fixture, type, config);
        if (diagnostics === "unimplemented") return;
        expectThat(
          diagnostics.some(
            (d) => d.path === path && d.severity === Diagnostic_Severity.ERROR && d.message !== "",
          ),
          `an error diagnostic with path "${path}" and a message for ${type} config ${show(config)}`,
          () => show(diagnostics.map((d) => ({ path: d.path, severity: d.severity, message: d.message }))),
        );
      }
    },
  },
  {
    id: "validate-config.unknown-type",
    title: "ValidateConfig of a node type it does not serve answers one error diagnostic naming the type",
    async run({ shared }) {
      const fixture = await shared();
      const diagnostics = await validateConfig(fixture, "conformance.nope", {});
      if (diagnostics === "unimplemented") return;
      expectThat(
        diagnostics.length === 1 &&
          diagnostics[0]!.severity === Diagnostic_Severity.ERROR &&
          diagnostics[0]!.path === "" &&
          diagnostics[0]!.message.includes("conformance.nope"),
        'one error diagnostic with path "" whose message names "conformance.nope"',
        () => show(diagnostics.map((d) => ({ path: d.path, severity: d.severity, message: d.message }))),
      );
    },
  },
];

async function validateConfig(
  fixture: RuntimeFixture,
  nodeType: string,
  config: unknown,
): Promise<"unimplemented" | { path: string; message: string; severity: Diagnostic_Severity }[]> {
  try {
    const response = await fixture.client.call(
      "validateConfig",
      create(ValidateConfigRequestSchema, { nodeType, config: json(config) }),
    );
    return response.diagnostics;
  } catch (error) {
    if (isCallError(error) && error.status === "UNIMPLEMENTED") return "unimplemented";
    throw new CheckFailure(
      `an answer to ValidateConfig(${nodeType}, ${show(config)}) (or UNIMPLEMENTED)`,
      isCallError(error) ? `${error.status}: ${error.details}` : String(error),
    );
  }
}

let ajv: Ajv2020 | undefined;

/** Compiles a schema given as JSON text; records a problem and gives undefined when it is not a usable schema. */
function compile(text: string, what: string, problems: string[]): ValidateFunction | undefined {
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch {
    problems.push(`${what} must be JSON text, found ${show(text.slice(0, 80))}`);
    return undefined;
  }
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
    problems.push(`${what} must be a JSON object, found ${show(schema)}`);
    return undefined;
  }
  if (ajv === undefined) {
    const Ajv = createRequire(import.meta.url)("ajv/dist/2020.js").default as new (
      options: object,
    ) => Ajv2020;
    ajv = new Ajv({ allErrors: false, strict: false, validateFormats: false });
  }
  // Because Ajv refuses a `$schema` of another draft it has not loaded; the keywords used here mean the same.
  const { $schema: _dialect, ...rest } = schema as Record<string, unknown>;
  try {
    return ajv.compile(rest);
  } catch (error) {
    problems.push(`${what} must compile as a JSON Schema: ${(error as Error).message}`);
    return undefined;
  }
}
