import { describe, expect, it } from "vitest";
import { z } from "zod";
import { values } from "../node/value-schemas.js";
import { createPortParser } from "./port-parser.js";

describe("createPortParser()", () => {
  const item = { a: 1, b: "two", nested: { c: [3] } };

  it("takes a checked input as it is when its schema cannot change it, and parses the others", () => {
    // Integers: a check the quick walk leaves to zod, but one the port's JSON Schema shows (so a proof holds).
    const counts = { a: 1, b: 2 };
    const parser = createPortParser(
      z.object({
        counts: z.record(z.string(), z.number().int()),
        label: z.string().min(1),
        n: z.number().optional(),
      }),
    );
    const parsed = parser.parse({ counts, label: "x" }, new Set(["counts"]));
    if (!parsed.success) throw parsed.error;
    // The very object: not parsed (a record parse would copy it).
    expect(parsed.data.counts).toBe(counts);
    expect(parsed.data).toEqual({ counts, label: "x" });
    const unchecked = parser.parse({ counts, label: "x" });
    if (!unchecked.success) throw unchecked.error;
    expect(unchecked.data.counts).not.toBe(counts);
    expect(unchecked.data.counts).toEqual(counts);
  });

  it("takes a value the quick walk shows valid as it is, checked or not, and leaves the rest to zod", () => {
    const parser = createPortParser(
      z.object({ item: z.record(z.string(), z.unknown()), list: z.array(z.string()) }),
    );
    const list = ["a", "b"];
    const parsed = parser.parse({ item, list, extra: 1 });
    if (!parsed.success) throw parsed.error;
    expect(parsed.data.item).toBe(item);
    expect(parsed.data.list).toBe(list);
    // Ports the schema does not list are dropped, as zod drops them.
    expect(Object.keys(parsed.data)).toEqual(["item", "list"]);
    const wrong = parser.parse({ item: [1], list: ["a", 2] });
    expect(wrong.success).toBe(false);
    if (wrong.success) return;
    expect(wrong.error.issues.map((issue) => issue.path.join("."))).toEqual(["item", "list.1"]);
  });

  it("still reports the unchecked inputs' problems, by port", () => {
    const parser = createPortParser(z.object({ item: z.looseObject({}), label: z.string() }));
    const parsed = parser.parse({ item }, new Set(["item"]));
    expect(parsed.success).toBe(false);
    if (parsed.success) return;
    expect(parsed.error.issues.map((issue) => [issue.path, issue.code])).toEqual([
      [["label"], "invalid_type"],
    ]);
  });

  it("parses a checked input whose schema would change it or checks more than its JSON Schema shows", () => {
    const shapes: Record<string, z.ZodType> = {
      strips: z.object({ a: z.number() }),
      defaults: z.looseObject({ a: z.number().default(1) }),
      transforms: z.string().transform((text) => text.length),
      coerces: z.coerce.number(),
      trims: z.string().trim(),
      refines: z.looseObject({}).refine((value) => "a" in value),
      custom: z.custom<string>((value) => typeof value === "string"),
      lazy: z.lazy(() => z.string()),
    };
    for (const [name, schema] of Object.entries(shapes)) {
      const value =
        name === "transforms" || name === "trims" || name === "custom" || name === "lazy"
          ? " ab "
          : { a: 1, z: 2 };
      const parsed = createPortParser(z.object({ port: schema })).parse({ port: value }, new Set(["port"]));
      const direct = z.object({ port: schema }).safeParse({ port: value });
      expect(parsed.success, name).toBe(direct.success);
      if (parsed.success && direct.success) expect(parsed.data, name).toEqual(direct.data);
    }
    // The refinement ran: a value without "a" is refused although it arrived checked.
    const refined = createPortParser(z.object({ port: shapes.refines! })).parse(
      { port: { z: 1 } },
      new Set(["port"]),
    );
    expect(refined.success).toBe(false);
  });

  it("takes checked bytes, tables' stand-ins and integers of the sdk's own schemas as they are", () => {
    const bytes = new Uint8Array([1, 2]);
    const parser = createPortParser(
      z.object({
        data: values.bytes().describe("some bytes"),
        n: values.integer(),
        list: z.array(z.number().int().min(0)),
      }),
    );
    const list = [1, 2, 3];
    const parsed = parser.parse({ data: bytes, n: 9007199254740993n, list }, new Set(["data", "n", "list"]));
    if (!parsed.success) throw parsed.error;
    expect(parsed.data.data).toBe(bytes);
    expect(parsed.data.n).toBe(9007199254740993n);
    expect(parsed.data.list).toBe(list);
  });
});
