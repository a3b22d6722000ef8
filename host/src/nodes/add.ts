import { defineNode } from "@conductor/sdk";
import { z } from "zod";

/** Adds two numbers; the smallest node with two inputs, for examples and the engine's tests. */
export const add = defineNode({
  type: "core.add",
  title: "Add",
  description: "Outputs the sum of two numbers.",
  input: { a: z.number(), b: z.number() },
  output: { sum: z.number() },
  flags: { deterministic: true, idempotent: true },
  run: ({ a, b }) => ({ sum: a + b }),
});
