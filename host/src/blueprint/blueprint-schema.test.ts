import { describe, expect, it } from "vitest";
import { ConductorError } from "../errors.js";
import { MAX_DURATION_MS } from "./blueprint-schema.js";
import { fromData } from "./load-blueprint.js";

function problems(node: Record<string, unknown>): string[] {
  try {
    fromData({ conductor: "blueprint/v1", nodes: { wait: { type: "core.delay", ...node } } });
  } catch (error) {
    if (error instanceof ConductorError) return error.diagnostics.map((d) => `${d.path}: ${d.message}`);
    throw error;
  }
  return [];
}

describe("blueprintSchema", () => {
  const limit = `expected at most ${MAX_DURATION_MS} ms (about 24.8 days), the longest a timer and the runtime ABI accept`;

  it("refuses durations a timer or the wire cannot hold, naming the field and the limit", () => {
    // 2^31 fails a Node.js timer at once; 2^32 does not fit the ABI's uint32.
    expect(problems({ timeoutMs: 2 ** 31 })).toEqual([`nodes.wait.timeoutMs: ${limit}`]);
    expect(problems({ timeoutMs: 2 ** 32 })).toEqual([`nodes.wait.timeoutMs: ${limit}`]);
    expect(problems({ heartbeatTimeoutMs: 2 ** 31 })).toEqual([`nodes.wait.heartbeatTimeoutMs: ${limit}`]);
    expect(problems({ retry: { initialDelayMs: 2 ** 31, maxDelayMs: 2 ** 40 } })).toEqual([
      `nodes.wait.retry.initialDelayMs: ${limit}`,
      `nodes.wait.retry.maxDelayMs: ${limit}`,
    ]);
  });

  it("accepts the longest duration there is", () => {
    expect(
      problems({
        timeoutMs: MAX_DURATION_MS,
        heartbeatTimeoutMs: MAX_DURATION_MS,
        retry: { initialDelayMs: MAX_DURATION_MS, maxDelayMs: MAX_DURATION_MS },
      }),
    ).toEqual([]);
  });
});
