import { create } from "@bufbuild/protobuf";
import { NodeTypeSchema } from "@conductor/sdk/protocol";
import { describe, expect, it } from "vitest";
import { checkConfigAgainstSchema } from "./config-schema-check.js";

const nodeType = (configSchema: unknown) =>
  create(NodeTypeSchema, { type: "go.fetch", configSchema: JSON.stringify(configSchema) });

const fetchSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  properties: {
    url: { type: "string" },
    method: { enum: ["GET", "POST"] },
    headers: { type: "object", properties: { accept: { type: "string" } }, additionalProperties: false },
    retries: { type: "integer", minimum: 0 },
  },
  required: ["url"],
};

describe("checkConfigAgainstSchema()", () => {
  it("accepts a config its schema accepts", () => {
    expect(
      checkConfigAgainstSchema(nodeType(fetchSchema), { url: "https://example.com", retries: 2 }),
    ).toEqual([]);
  });

  it("reports every problem at its dotted path, with what was expected and what was found", () => {
    const problems = checkConfigAgainstSchema(nodeType(fetchSchema), {
      method: "PUT",
      headers: { accept: 7, extra: "x" },
      retries: -1,
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        { path: "url", message: 'missing required field "url"' },
        { path: "method", message: 'expected one of "GET", "POST", found "PUT"' },
        { path: "headers.accept", message: "expected string, found 7" },
        { path: "headers.extra", message: 'unknown field "extra"; expected one of accept' },
        { path: "retries", message: "must be >= 0, found -1" },
      ]),
    );
    expect(problems).toHaveLength(5);
  });

  it("names the declared field a misspelt one meant", () => {
    const strict = { ...fetchSchema, additionalProperties: false };
    expect(checkConfigAgainstSchema(nodeType(strict), { url: "u", methd: "GET" })).toEqual([
      { path: "methd", message: 'unknown field "methd"; did you mean "method"?' },
    ]);
  });

  it("names the node type when its config_schema is not a usable schema", () => {
    const [problem] = checkConfigAgainstSchema(
      create(NodeTypeSchema, { type: "go.broken", configSchema: "{not json" }),
      {},
    );
    expect(problem?.message).toMatch(
      /^node type "go\.broken" has a config_schema that is not a usable JSON Schema \(.+\); fix the runtime that serves it$/,
    );
  });

  it("treats an empty config_schema as one that accepts anything", () => {
    expect(checkConfigAgainstSchema(create(NodeTypeSchema, { type: "go.free" }), { anything: 1 })).toEqual(
      [],
    );
  });
});
