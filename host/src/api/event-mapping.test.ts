import { FailureSchema as ApiFailureSchema } from "@conductor/sdk/client";
import { FailureSchema as RuntimeFailureSchema } from "@conductor/sdk/protocol";
import { describe, expect, it } from "vitest";
import { toApiFailure } from "./event-mapping.js";

describe("toApiFailure()", () => {
  it("carries every field of the runtime's Failure, by the same name", () => {
    // The public API writes values as JSON text in fields named `<name>_json`; every other field keeps its name.
    const apiName = (name: string) => (name === "details" ? "details_json" : name);
    const runtimeFields = RuntimeFailureSchema.fields.map((field) => apiName(field.name)).sort();
    const apiFields = ApiFailureSchema.fields.map((field) => field.name).sort();
    expect(apiFields).toEqual(runtimeFields);
    expect(apiFields).toEqual([
      "cause",
      "details_json",
      "message",
      "node_id",
      "retry_delay_ms",
      "retryable",
      "stack",
      "type",
    ]);
  });

  it("maps each field and the cause chain", () => {
    const failure = toApiFailure({
      message: "upstream answered 503",
      type: "http.status",
      retryable: true,
      details: { status: 503, id: 9007199254740993n },
      stack: "at fetch",
      retryDelayMs: 2000,
      nodeId: "fetch",
      cause: { message: "socket hang up", type: "Error", retryable: true },
    });
    expect(failure).toMatchObject({
      message: "upstream answered 503",
      type: "http.status",
      retryable: true,
      detailsJson: '{"status":503,"id":9007199254740993}',
      stack: "at fetch",
      retryDelayMs: 2000,
      nodeId: "fetch",
      cause: { message: "socket hang up", type: "Error", retryable: true, detailsJson: "", retryDelayMs: 0 },
    });
  });
});
