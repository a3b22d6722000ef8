import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  BlobRef_Encoding,
  type Event,
  type Failure,
  type InputSchema,
  type StepSchema,
  type Value,
  ValueSchema,
} from "@conductor/sdk/protocol";
import { CheckFailure, show } from "./conformance-check.js";
import { describeEvents } from "./session-driver.js";

/** A Step as the kit writes it. */
export type StepInit = MessageInitShape<typeof StepSchema>;

/** An input of a Step as the kit writes it. */
export type InputInit = MessageInitShape<typeof InputSchema>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A `json` Value holding exactly this JSON text (so integers beyond 2^53 keep every digit). */
export function jsonText(text: string): Value {
  return create(ValueSchema, { kind: { case: "json", value: encoder.encode(text) } });
}

/** A `json` Value of a JavaScript value. */
export function json(value: unknown): Value {
  return jsonText(JSON.stringify(value));
}

/** A `raw` Value. */
export function raw(bytes: Uint8Array): Value {
  return create(ValueSchema, { kind: { case: "raw", value: bytes } });
}

/** An input of a step given as a value. */
export function given(value: Value): InputInit {
  return { source: { case: "value", value } };
}

/** An input of a step taken from an earlier step's output. */
export function fromStep(step: number, port: string): InputInit {
  return { source: { case: "stepOutput", value: { step, port } } };
}

/** One step of the kitchen sink, with attempt 1 and a JSON config. */
export function step(
  nodeId: string,
  nodeType: string,
  config: unknown,
  inputs: Record<string, InputInit> = {},
  timeoutMs = 0,
): StepInit {
  return { nodeId, nodeType, attempt: 1, config: json(config), inputs, timeoutMs };
}

/** The bytes a value carries, reading a blob reference from its file (no checks: see the blob checks). */
export function valueBytes(value: Value): Uint8Array {
  switch (value.kind.case) {
    case "json":
    case "raw":
    case "arrow":
      return value.kind.value;
    case "blob":
      return readFileSync(fileURLToPath(value.kind.value.uri));
    default:
      throw new CheckFailure("a value with one of json, raw, arrow, blob set", "an empty Value");
  }
}

/** The JSON text of a `json` value (or a JSON blob). */
export function jsonTextOf(value: Value | undefined, what: string): string {
  if (value === undefined) throw new CheckFailure(`${what} as a JSON value`, "no value");
  const isJson =
    value.kind.case === "json" ||
    (value.kind.case === "blob" && value.kind.value.encoding === BlobRef_Encoding.JSON);
  if (!isJson) throw new CheckFailure(`${what} as a JSON value`, `a ${value.kind.case ?? "empty"} value`);
  return decoder.decode(valueBytes(value));
}

/** The events of one invocation, once it ended, checked against the rules of docs/protocol.md §3.1. */
export function checkGrammar(events: readonly Event[], steps: number): void {
  let current = 0;
  let started = false;
  let finished = false;
  for (const [index, event] of events.entries()) {
    const where = () => `event ${index} of ${describeEvents(events)}`;
    if (finished) throw new CheckFailure("no event after an invocation's last event", where());
    const kind = event.kind.case;
    if (kind === "rejected") {
      if (index !== 0 || event.step !== 0) {
        throw new CheckFailure("rejected only as the one event of an invocation, on step 0", where());
      }
      finished = true;
      continue;
    }
    if (event.step !== current) {
      throw new CheckFailure(`events of step ${current} (steps run in order)`, where());
    }
    if (kind === "started") {
      if (started) throw new CheckFailure("one started event per step", where());
      started = true;
    } else if (kind === "completed" || kind === "failed" || kind === "cancelled") {
      // A step the runtime began has started first, a failed one too (even when its inputs failed their
      // checks); only a step cancelled before it began may end without it.
      if (kind !== "cancelled" && !started) {
        throw new CheckFailure(`started before a step's ${kind} event`, where());
      }
      if (kind !== "completed" || current === steps - 1) finished = true;
      current++;
      started = false;
    } else if (kind === undefined) {
      throw new CheckFailure("an event with one of its kinds set", where());
    } else if (!started) {
      throw new CheckFailure(`started before a step's ${kind} event`, where());
    }
  }
  if (!finished) throw new CheckFailure("a last event for the invocation", describeEvents(events));
}

/** The one terminal event of a one-step invocation, or a failure naming what came instead. */
export function terminal(events: readonly Event[], expected: string): Event {
  const last = events.at(-1);
  if (last === undefined) throw new CheckFailure(expected, "no events");
  return last;
}

/** The Failure of a failed or rejected event, or a check failure saying the event was something else. */
export function failureOf(event: Event, kind: "failed" | "rejected", expected: string): Failure {
  if (event.kind.case !== kind || event.kind.value.failure === undefined) {
    throw new CheckFailure(expected, describeEvents([event]));
  }
  return event.kind.value.failure;
}

/** Checks a Failure's type, retryable flag and that its message mentions each of `mentions`. */
export function expectFailure(
  failure: Failure,
  expected: { type: string; retryable: boolean; mentions?: readonly string[] },
): void {
  const want = `a Failure {type: ${show(expected.type)}, retryable: ${expected.retryable}${
    expected.mentions === undefined
      ? ""
      : `, a message naming ${expected.mentions.map((m) => show(m)).join(" and ")}`
  }}`;
  const found = () =>
    `{type: ${show(failure.type)}, retryable: ${failure.retryable}, message: ${show(failure.message)}}`;
  if (failure.type !== expected.type || failure.retryable !== expected.retryable) {
    throw new CheckFailure(want, found());
  }
  for (const mention of expected.mentions ?? []) {
    if (!failure.message.includes(mention)) throw new CheckFailure(want, found());
  }
}
