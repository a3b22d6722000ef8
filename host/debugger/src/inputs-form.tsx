import type { BlueprintInput } from "@conductor/sdk/client";
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";

interface FieldSchema {
  type?: string | string[];
  enum?: unknown[];
  description?: string;
  title?: string;
}

export interface InputsFormProps {
  inputs: BlueprintInput[];
  running: boolean;
  onRun(inputs: Record<string, unknown>): void;
}

type FieldKind = "string" | "number" | "integer" | "boolean" | "enum" | "json";

/**
 * The inputs of a blueprint as a form generated from their JSON Schemas (text, number, checkbox, choice, or JSON
 * for anything else), or as one raw JSON object. Defaults are filled in; empty optional fields are left out.
 */
export function InputsForm({ inputs, running, onRun }: InputsFormProps) {
  const [values, setValues] = useState<Record<string, string | boolean>>({});
  const [raw, setRaw] = useState(false);
  const [rawText, setRawText] = useState("{}");
  const [error, setError] = useState<string>();

  useEffect(() => {
    const initial: Record<string, string | boolean> = {};
    for (const input of inputs) initial[input.name] = initialValue(input);
    setValues(initial);
    setRawText(
      JSON.stringify(
        collect(inputs, initial, () => {}),
        null,
        2,
      ),
    );
    setError(undefined);
  }, [inputs]);

  const submit = (event: Event) => {
    event.preventDefault();
    try {
      const given = raw
        ? parseRaw(rawText)
        : collect(inputs, values, (message) => {
            throw new Error(message);
          });
      setError(undefined);
      onRun(given);
    } catch (problem) {
      setError((problem as Error).message);
    }
  };

  return (
    <form class="inputs-form" onSubmit={submit}>
      <div class="form-head">
        <h2>Inputs</h2>
        <label class="toggle">
          <input
            type="checkbox"
            checked={raw}
            onChange={(event) => {
              const on = (event.currentTarget as HTMLInputElement).checked;
              if (on)
                setRawText(
                  JSON.stringify(
                    collect(inputs, values, () => {}),
                    null,
                    2,
                  ),
                );
              setRaw(on);
            }}
          />{" "}
          raw JSON
        </label>
      </div>
      {raw ? (
        <textarea
          class="raw-json"
          aria-label="inputs as JSON"
          rows={8}
          value={rawText}
          onInput={(event) => setRawText((event.currentTarget as HTMLTextAreaElement).value)}
        />
      ) : inputs.length === 0 ? (
        <p class="muted">This blueprint takes no inputs.</p>
      ) : (
        inputs.map((input) => (
          <Field
            key={input.name}
            input={input}
            value={values[input.name] ?? ""}
            onChange={(value) => setValues({ ...values, [input.name]: value })}
          />
        ))
      )}
      {error === undefined ? null : <p class="error">{error}</p>}
      <button type="submit" class="run" disabled={running}>
        {running ? "Running…" : "Run"}
      </button>
    </form>
  );
}

function Field({
  input,
  value,
  onChange,
}: {
  input: BlueprintInput;
  value: string | boolean;
  onChange(value: string | boolean): void;
}) {
  const schema = parseSchema(input.schemaJson);
  const kind = kindOf(schema);
  const id = `input-${input.name}`;
  const label = (
    <label for={id}>
      {input.name}
      {input.required ? <span class="required"> *</span> : null}
      {kind === "json" ? <span class="muted"> (JSON)</span> : null}
    </label>
  );
  const hint = input.description || schema.description;
  let control: JSX.Element;
  if (kind === "boolean") {
    control = (
      <input
        id={id}
        name={input.name}
        type="checkbox"
        checked={value === true}
        onChange={(event) => onChange((event.currentTarget as HTMLInputElement).checked)}
      />
    );
  } else if (kind === "enum") {
    control = (
      <select
        id={id}
        name={input.name}
        value={String(value)}
        onChange={(event) => onChange((event.currentTarget as HTMLSelectElement).value)}
      >
        {input.required ? null : <option value="">(none)</option>}
        {(schema.enum ?? []).map((option) => (
          <option key={JSON.stringify(option)} value={JSON.stringify(option)}>
            {typeof option === "string" ? option : JSON.stringify(option)}
          </option>
        ))}
      </select>
    );
  } else if (kind === "json") {
    control = (
      <textarea
        id={id}
        name={input.name}
        rows={3}
        value={String(value)}
        onInput={(event) => onChange((event.currentTarget as HTMLTextAreaElement).value)}
      />
    );
  } else if (kind === "string") {
    control = (
      <input
        id={id}
        name={input.name}
        type="text"
        value={String(value)}
        onInput={(event) => onChange((event.currentTarget as HTMLInputElement).value)}
      />
    );
  } else {
    control = (
      <input
        id={id}
        name={input.name}
        type="number"
        step={kind === "integer" ? 1 : "any"}
        value={String(value)}
        onInput={(event) => onChange((event.currentTarget as HTMLInputElement).value)}
      />
    );
  }
  return (
    <div class={`field field-${kind}`}>
      {label}
      {control}
      {hint ? <small class="muted">{hint}</small> : null}
    </div>
  );
}

function parseSchema(text: string): FieldSchema {
  if (text === "") return {};
  try {
    return JSON.parse(text) as FieldSchema;
  } catch {
    return {};
  }
}

function kindOf(schema: FieldSchema): FieldKind {
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return "enum";
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  if (type === "string" || type === "number" || type === "integer" || type === "boolean") return type;
  return "json";
}

function initialValue(input: BlueprintInput): string | boolean {
  const kind = kindOf(parseSchema(input.schemaJson));
  if (input.defaultJson === "") return kind === "boolean" ? false : "";
  const value = JSON.parse(input.defaultJson) as unknown;
  if (kind === "boolean") return value === true;
  if (kind === "enum" || kind === "json") return kind === "json" ? JSON.stringify(value) : input.defaultJson;
  return String(value);
}

/** The inputs object of the form's fields; `fail` is called for a field that cannot be read. */
function collect(
  inputs: BlueprintInput[],
  values: Record<string, string | boolean>,
  fail: (message: string) => void,
): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const input of inputs) {
    const value = values[input.name];
    const kind = kindOf(parseSchema(input.schemaJson));
    if (kind === "boolean") {
      result[input.name] = value === true;
      continue;
    }
    const text = String(value ?? "");
    if (text === "") continue;
    if (kind === "string") result[input.name] = text;
    else if (kind === "number" || kind === "integer") {
      const number = Number(text);
      if (Number.isNaN(number)) fail(`${input.name}: "${text}" is not a number`);
      else result[input.name] = number;
    } else {
      try {
        result[input.name] = JSON.parse(text) as unknown;
      } catch {
        fail(`${input.name}: not valid JSON`);
      }
    }
  }
  return result;
}

function parseRaw(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text === "" ? "{}" : text);
  } catch (error) {
    throw new Error(`the inputs are not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error("the inputs must be a JSON object of input names to values");
  }
  return value as Record<string, unknown>;
}
