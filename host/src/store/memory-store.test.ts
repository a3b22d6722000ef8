import { describe, expect, it } from "vitest";
import { createMemoryStore } from "./memory-store.js";

describe("createMemoryStore()", () => {
  it("lists no orphans: what it holds runs in this process", () => {
    const store = createMemoryStore();
    store.append({
      type: "execution.started",
      executionId: "e",
      seq: 1,
      at: 1,
      blueprintId: "b",
      inputs: {},
    });
    expect(store.list().map((summary) => summary.status)).toEqual(["running"]);
    expect(store.list({ orphaned: true })).toEqual([]);
  });
});
