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

/**
 * The newest re-run of the execution shown that started after `sinceMs` (when it was put on screen), if any:
 * `conductor dev` re-runs the last execution after each edit, and the debugger follows, so the result of an edit is
 * on screen without a click. Re-runs of re-runs are followed to the newest of the chain; re-runs older than
 * `sinceMs` are not, so opening an old execution from the history shows that one.
 */
export function newerRerun(
  shown: string | undefined,
  executions: readonly ExecutionSummary[],
  sinceMs: number,
): string | undefined {
  if (shown === undefined) return undefined;
  let current = shown;
  let found: string | undefined;
  for (;;) {
    const next = executions
      .filter((execution) => execution.lineage?.rerunOf === current && startedMs(execution) >= sinceMs)
      .sort((a, b) => startedMs(b) - startedMs(a))[0];
    if (next === undefined || next.executionId === shown) return found;
    found = next.executionId;
    current = next.executionId;
  }
}

function startedMs(summary: ExecutionSummary): number {
  return Number(summary.startedAt?.seconds ?? 0n) * 1_000 + (summary.startedAt?.nanos ?? 0) / 1e6;
}
