import type { ExecutionSummary } from "@conductor/sdk/client";
import { OrphanReason } from "@conductor/sdk/client";

/** The first characters of an execution id, enough to tell executions apart in a list. */
function short(executionId: string): string {
  return executionId.length > 8 ? `${executionId.slice(0, 8)}…` : executionId;
}

/**
 * Where an execution in the history list comes from and whether anyone runs it, in words: "rerun of 3f2a1b2c… from
 * stats", "sub-blueprint of 9c1d…, node sub", "resumed 2×", "orphaned: its host died". Empty for a plain execution.
 * The history list shows these under the execution, so that a re-run or a resumed execution is told from the
 * others at a glance.
 */
export function lineageNotes(summary: ExecutionSummary): string[] {
  const notes: string[] = [];
  const lineage = summary.lineage;
  if (lineage !== undefined) {
    if (lineage.rerunOf !== "")
      notes.push(
        `rerun of ${short(lineage.rerunOf)}${lineage.rerunFromNode === "" ? "" : ` from ${lineage.rerunFromNode}`}`,
      );
    if (lineage.parentExecutionId !== "")
      notes.push(`sub-blueprint of ${short(lineage.parentExecutionId)}, node ${lineage.parentNodeId}`);
    if (lineage.resumes > 0) notes.push(`resumed ${lineage.resumes}×`);
  }
  switch (summary.orphaned) {
    case OrphanReason.OWNER_DIED:
      notes.push("orphaned: its host died");
      break;
    case OrphanReason.LEASE_EXPIRED:
      notes.push("orphaned: its host stopped renewing its lease");
      break;
    case OrphanReason.NO_OWNER:
      notes.push("orphaned: no host recorded");
      break;
    default:
      break;
  }
  return notes;
}
