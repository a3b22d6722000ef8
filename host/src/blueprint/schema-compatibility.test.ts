import { values } from "@conductor/sdk";
import { expect, describe as group, it } from "vitest";
import { z } from "zod";
import { describe, encodingsOf, incompatibility, provablyAccepts } from "./schema-compatibility.js";

const bytes = { type: "string", contentEncoding: "binary", "x-conductor-encoding": "raw" };
const table = { type: "object", "x-conductor-encoding": "arrow" };
/** rs.hash's `data` port: raw bytes, or a string whose UTF-8 bytes are hashed. */
const bytesOrString = { anyOf: [{ "x-conductor-encoding": "raw" }, { type: "string" }] };

/** The JSON Schema a zod port schema publishes, as the sdk writes it. */
function fromZod(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  return z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
}

group("incompatibility()", () => {
  it("lets bytes flow into a port whose union admits bytes, and says why a table cannot", () => {
    expect(incompatibility(bytes, bytesOrString)).toBeUndefined();
    expect(incompatibility({ type: "string" }, bytesOrString)).toBeUndefined();
    expect(incompatibility(table, bytesOrString)).toBe("expected bytes or string, found an Arrow table");
    expect(incompatibility({ type: "number" }, bytesOrString)).toBe("expected bytes or string, found number");
  });

  it("finds encodings inside unions on the source side too", () => {
    expect(incompatibility(bytesOrString, bytes)).toBeUndefined();
    expect(incompatibility(bytesOrString, table)).toBe("expected an Arrow table, found bytes or string");
  });

  it("keeps refusing what clearly disagrees", () => {
    expect(incompatibility(table, { type: "string" })).toBe("expected string, found an Arrow table");
    expect(incompatibility({ type: "string" }, { type: "integer" })).toBe("expected integer, found string");
    expect(
      incompatibility(
        { type: "object", properties: { a: bytes }, additionalProperties: false },
        { type: "object", properties: { a: { type: "string" } } },
      ),
    ).toBe('property "a": expected string, found bytes');
    expect(incompatibility({ type: "integer" }, { type: "number" })).toBeUndefined();
  });
});

group("encodingsOf()", () => {
  it("gives the markers of a schema and of its variants, json without one, any for an open schema", () => {
    expect(encodingsOf(bytesOrString)).toEqual(new Set(["raw", "json"]));
    expect(encodingsOf(table)).toEqual(new Set(["arrow"]));
    expect(encodingsOf({ type: "number" })).toEqual(new Set(["json"]));
    expect(encodingsOf({ description: "anything" })).toBe("any");
    expect(encodingsOf({ anyOf: [bytes, {}] })).toBe("any");
  });
});

group("describe()", () => {
  it("names each variant of a union with an encoding", () => {
    expect(describe(bytesOrString)).toBe("bytes or string");
    expect(describe({ anyOf: [{ type: "number" }, { type: "null" }] })).toBe("number or null");
  });
});

group("provablyAccepts()", () => {
  it("accepts what a growing record passes on to the next one, as the sdk publishes them", () => {
    const record = z.record(z.string(), z.unknown());
    expect(provablyAccepts(fromZod(record, "output"), fromZod(record, "input"))).toBe(true);
    const loose = z.looseObject({ id: z.string() });
    expect(provablyAccepts(fromZod(loose, "output"), fromZod(loose, "input"))).toBe(true);
    expect(provablyAccepts(fromZod(loose, "output"), fromZod(record, "input"))).toBe(true);
  });

  it("accepts a closed object into a wider one, and integers into numbers", () => {
    const out = fromZod(z.object({ id: z.string(), n: z.number().int() }), "output");
    expect(provablyAccepts(out, fromZod(z.object({ id: z.string(), n: z.number() }), "input"))).toBe(true);
    expect(provablyAccepts(out, fromZod(z.object({ id: z.string() }), "input"))).toBe(true);
    expect(provablyAccepts(out, fromZod(z.object({ id: z.string(), extra: z.string() }), "input"))).toBe(
      false,
    );
  });

  it("refuses what it cannot show: a wider type, a missing bound, a constraint it does not compare", () => {
    expect(provablyAccepts({ type: "number" }, { type: "integer" })).toBe(false);
    expect(provablyAccepts(fromZod(values.integer(), "output"), fromZod(z.number().int(), "input"))).toBe(
      false,
    );
    expect(provablyAccepts({ type: "string" }, { type: "string", minLength: 1 })).toBe(false);
    expect(provablyAccepts({ type: "string", minLength: 1 }, { type: "string", minLength: 1 })).toBe(true);
    expect(provablyAccepts({}, { type: "string" })).toBe(false);
    expect(provablyAccepts({ type: ["string", "null"] }, { type: "string" })).toBe(false);
    expect(provablyAccepts({ $ref: "#/$defs/a" }, { $ref: "#/$defs/a" })).toBe(false);
  });

  it("requires every property the target requires to be required by the source", () => {
    const target = { type: "object", properties: { a: { type: "string" } }, required: ["a"] };
    expect(provablyAccepts({ type: "object", properties: { a: { type: "string" } } }, target)).toBe(false);
    expect(provablyAccepts({ ...target, additionalProperties: false }, target)).toBe(true);
  });

  it("checks what a closed target allows against every name the source may hold", () => {
    const closed = { type: "object", properties: { a: { type: "string" } }, additionalProperties: false };
    expect(provablyAccepts(closed, closed)).toBe(true);
    expect(provablyAccepts({ type: "object", properties: { a: { type: "string" } } }, closed)).toBe(false);
    expect(
      provablyAccepts(
        {
          type: "object",
          properties: { a: { type: "string" } },
          patternProperties: { "^x": {} },
          additionalProperties: false,
        },
        { type: "object", properties: { a: { type: "string" } }, additionalProperties: { type: "string" } },
      ),
    ).toBe(false);
  });

  it("keeps encodings apart and accepts bytes into a union that admits them", () => {
    expect(provablyAccepts(bytes, bytes)).toBe(true);
    expect(provablyAccepts(bytes, bytesOrString)).toBe(true);
    expect(provablyAccepts(table, bytesOrString)).toBe(false);
    expect(provablyAccepts({ type: "string" }, bytes)).toBe(false);
    expect(provablyAccepts(table, {})).toBe(true);
  });

  it("accepts enums within enums and bounds within bounds", () => {
    expect(provablyAccepts({ enum: ["a", "b"] }, { type: "string", enum: ["a", "b", "c"] })).toBe(true);
    expect(provablyAccepts({ enum: ["a", "d"] }, { enum: ["a", "b"] })).toBe(false);
    expect(provablyAccepts({ type: "integer", minimum: 1, maximum: 5 }, { type: "number", minimum: 0 })).toBe(
      true,
    );
    expect(provablyAccepts({ type: "integer", minimum: 0 }, { type: "integer", exclusiveMinimum: 0 })).toBe(
      false,
    );
    expect(
      provablyAccepts(
        { type: "array", items: { type: "integer" } },
        { type: "array", items: { type: "number" } },
      ),
    ).toBe(true);
    expect(provablyAccepts({ type: "array" }, { type: "array", items: { type: "number" } })).toBe(false);
  });
});
