import { create } from "@bufbuild/protobuf";
import { ExecutionSummarySchema, OrphanReason } from "@conductor/sdk/client";
import { describe, expect, it } from "vitest";
import { lineageNotes, newerRerun } from "./lineage.js";

describe("lineageNotes()", () => {
  it("says where an execution comes from and whether anyone runs it", () => {
    expect(lineageNotes(create(ExecutionSummarySchema, { executionId: "a" }))).toEqual([]);
    expect(
      lineageNotes(
        create(ExecutionSummarySchema, {
          lineage: { rerunOf: "3f2a1b2c-0000-4000-8000-000000000000", rerunFromNode: "stats", resumes: 2 },
          orphaned: OrphanReason.OWNER_DIED,
        }),
      ),
    ).toEqual(["rerun of 3f2a1b2c… from stats", "resumed 2×", "orphaned: its host died"]);
    expect(
      lineageNotes(
        create(ExecutionSummarySchema, {
          lineage: { parentExecutionId: "9c1d", parentNodeId: "sub" },
          orphaned: OrphanReason.LEASE_EXPIRED,
        }),
      ),
    ).toEqual(["sub-blueprint of 9c1d, node sub", "orphaned: its host stopped renewing its lease"]);
  });
});

describe("newerRerun()", () => {
  const summary = (executionId: string, rerunOf: string, startedSeconds: number) =>
    create(ExecutionSummarySchema, {
      executionId,
      startedAt: { seconds: BigInt(startedSeconds) },
      ...(rerunOf === "" ? {} : { lineage: { rerunOf, rerunFromNode: "n" } }),
    });

  it("follows the re-runs of the execution shown that started since it was shown, to the newest", () => {
    const list = [
      summary("a", "", 100),
      summary("b", "a", 200),
      summary("c", "b", 300),
      summary("d", "", 400),
    ];
    expect(newerRerun("a", list, 150_000)).toBe("c");
    expect(newerRerun("c", list, 150_000)).toBeUndefined();
    expect(newerRerun(undefined, list, 0)).toBeUndefined();
  });

  it("does not jump away from an old execution opened from the history", () => {
    const list = [summary("a", "", 100), summary("b", "a", 200)];
    expect(newerRerun("a", list, 500_000)).toBeUndefined();
  });
});
