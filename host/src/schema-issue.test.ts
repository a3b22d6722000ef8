import { describe, expect, it } from "vitest";
import { z } from "zod";
import { describeSchemaIssue } from "./schema-issue.js";

function describe1(schema: z.ZodType, value: unknown): string[] {
  const parsed = schema.safeParse(value);
  if (parsed.success) throw new Error("expected the value to be refused");
  return parsed.error.issues.map(describeSchemaIssue);
}

describe("describeSchemaIssue", () => {
  it("lists the choices of an enum and starts in lowercase", () => {
    expect(describe1(z.enum(["fail", "continue", "route"]), "explode")).toEqual([
      'expected one of "fail", "continue" or "route"',
    ]);
    expect(describe1(z.literal("blueprint/v1"), "v2")).toEqual(['expected "blueprint/v1"']);
  });

  it("says missing for an absent field and names the found kind for a wrong one", () => {
    expect(describe1(z.object({ a: z.string() }), {})).toEqual(["missing (expected a string)"]);
    expect(describe1(z.object({ a: z.array(z.string()) }), { a: 3 })).toEqual([
      "expected a list, found a number",
    ]);
  });

  it("never starts a message with a capital, whatever zod says", () => {
    const checks: [z.ZodType, unknown][] = [
      [z.string().min(3), "a"],
      [z.number().int(), 1.5],
      [z.string().regex(/^x/), "y"],
      [z.object({}).strict(), { b: 1 }],
      [z.union([z.string(), z.number()]), true],
      [z.record(z.string().regex(/^a/), z.number()), { b: 1 }],
    ];
    for (const [schema, value] of checks) {
      for (const message of describe1(schema, value)) expect(message).toMatch(/^[^A-Z]/);
    }
  });
});
