/**
 * The TypeScript kitchen sink with deliberate mistakes, served by the Node sidecar, so that a test can show the
 * conformance kit failing a runtime that does not conform, with what it expected and what it found.
 */
import { writeSync } from "node:fs";
import { defineNode, NodeFailure } from "@conductor/sdk";
import { z } from "zod";
import * as kitchenSink from "./kitchen-sink.ts";

const FLAWED = new Set(["conformance.add", "conformance.report", "conformance.print", "conformance.sleep"]);

/** Every correct node type but the flawed ones. */
export const correct = Object.values(kitchenSink).filter(
  (value) =>
    typeof value === "object" && value !== null && "type" in value && !FLAWED.has(value.type as string),
);

/** Off by one, and without its flags. */
export const add = defineNode({
  type: "conformance.add",
  config: z.object({ offset: z.number().optional() }),
  input: { a: z.number(), b: z.number() },
  output: { sum: z.number() },
  run: ({ a, b }, ctx) => ({ sum: a + b + (ctx.config.offset ?? 0) + 1 }),
});

/** Forgets its last chunk. */
export const report = defineNode({
  type: "conformance.report",
  output: { done: z.boolean() },
  flags: { streaming: true },
  run: (_input, ctx) => {
    ctx.log.info("hello from typescript", { n: 1 });
    ctx.progress(0.5, "half");
    for (let i = 0; i < 2; i++) ctx.emit("items", i);
    ctx.progress(1, "done");
    return { done: true };
  },
});

/** Writes to the process's real stdout, past the sidecar's redirection. */
export const print = defineNode({
  type: "conformance.print",
  output: { ok: z.boolean() },
  run: () => {
    writeSync(1, "noise\n");
    return { ok: true };
  },
});

/** Ignores cancellation, and fails instead of returning when its time is up. */
export const sleep = defineNode({
  type: "conformance.sleep",
  config: z.object({ ms: z.number().int().min(0) }),
  output: { slept_ms: z.number().int() },
  flags: { cancellable: true },
  run: (_input, ctx) =>
    new Promise<{ slept_ms: number }>((_resolve, reject) => {
      setTimeout(() => reject(new NodeFailure("overslept", { retryable: false })), ctx.config.ms);
    }),
});
