import { create } from "@bufbuild/protobuf";
import { type Event, EventSchema } from "@conductor/sdk/protocol";
import { describe, expect, it } from "vitest";
import { CheckFailure } from "./conformance-check.js";
import { checkGrammar, expectFailure } from "./kit-messages.js";

type Kind = "started" | "log" | "completed" | "failed" | "cancelled" | "rejected";

function event(step: number, kind: Kind): Event {
  switch (kind) {
    case "completed":
      return create(EventSchema, { invocationId: 1n, step, kind: { case: kind, value: {} } });
    case "failed":
    case "rejected":
      return create(EventSchema, {
        invocationId: 1n,
        step,
        kind: { case: kind, value: { failure: { message: "m", type: "t" } } },
      });
    case "cancelled":
      return create(EventSchema, { invocationId: 1n, step, kind: { case: kind, value: { reason: "r" } } });
    case "log":
      return create(EventSchema, { invocationId: 1n, step, kind: { case: kind, value: { message: "hi" } } });
    default:
      return create(EventSchema, { invocationId: 1n, step, kind: { case: "started", value: {} } });
  }
}

const events = (...pairs: [number, Kind][]) => pairs.map(([step, kind]) => event(step, kind));

describe("checkGrammar()", () => {
  it("accepts the event sequences docs/protocol.md §3.1 allows", () => {
    expect(() => checkGrammar(events([0, "started"], [0, "log"], [0, "completed"]), 1)).not.toThrow();
    expect(() =>
      checkGrammar(events([0, "started"], [0, "completed"], [1, "started"], [1, "failed"]), 3),
    ).not.toThrow();
    expect(() => checkGrammar(events([0, "rejected"]), 2)).not.toThrow();
    // Cancelled before the step began: no started.
    expect(() => checkGrammar(events([0, "cancelled"]), 1)).not.toThrow();
  });

  it.each([
    [
      "a completed event without started",
      events([0, "completed"]),
      1,
      "started before a step's completed event",
    ],
    ["a failed event without started", events([0, "failed"]), 1, "started before a step's failed event"],
    [
      "a log before started",
      events([0, "log"], [0, "started"], [0, "completed"]),
      1,
      "started before a step's log event",
    ],
    [
      "two started events",
      events([0, "started"], [0, "started"], [0, "completed"]),
      1,
      "one started event per step",
    ],
    [
      "an event after the last one",
      events([0, "started"], [0, "failed"], [1, "started"]),
      2,
      "no event after",
    ],
    ["a step out of order", events([0, "started"], [1, "started"]), 2, "events of step 0"],
    [
      "a rejected event after others",
      events([0, "started"], [0, "rejected"]),
      1,
      "rejected only as the one event",
    ],
    ["no last event", events([0, "started"], [0, "completed"]), 2, "a last event for the invocation"],
  ])("refuses %s", (_what, sequence, steps, expected) => {
    let thrown: unknown;
    try {
      checkGrammar(sequence, steps);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CheckFailure);
    expect((thrown as CheckFailure).expected).toContain(expected);
  });
});

describe("expectFailure()", () => {
  const failure = event(0, "failed").kind.value as { failure: Parameters<typeof expectFailure>[0] };

  it("passes a Failure of the expected type, flag and message", () => {
    expect(() =>
      expectFailure(failure.failure, { type: "t", retryable: false, mentions: ["m"] }),
    ).not.toThrow();
  });

  it("says what was expected and what was found", () => {
    expect(() => expectFailure(failure.failure, { type: "input.invalid", retryable: false })).toThrow(
      'expected a Failure {type: "input.invalid", retryable: false}; found {type: "t", retryable: false, message: "m"}',
    );
  });
});
