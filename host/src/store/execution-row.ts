import { parseJsonText } from "@conductor/sdk/protocol";
import type { ExecutionLineage } from "../scheduler/execution-events.js";
import { type OwnerColumns, ownerOfRow } from "./execution-leases.js";
import type { OwnerState } from "./execution-owner.js";
import type { ExecutionSummary } from "./execution-store.js";

/** The owner columns, in the order {@link ExecutionLeases.ownerValues} gives their values. */
export const OWNER_COLUMNS =
  "owner_id, owner_host, owner_pid, owner_started_at, owner_process, owner_label, lease_expires_at";

/** The columns a summary is made of. */
export const SUMMARY_COLUMNS = `id, blueprint_id, status, started_at, finished_at, duration_ms, failure, parent_id, parent_node, rerun_of, rerun_from, resumes, resumed_at, ${OWNER_COLUMNS}`;

/** The lineage columns' values: parent_id, parent_node, rerun_of, rerun_from. */
export function lineageValues(lineage: ExecutionLineage | undefined): (string | null)[] {
  return [
    lineage?.parentId ?? null,
    lineage?.parentNode ?? null,
    lineage?.rerunOf ?? null,
    lineage?.rerunFrom ?? null,
  ];
}

/** A row of the journal's `executions` table, as {@link SUMMARY_COLUMNS} reads it. */
export interface ExecutionRow extends OwnerColumns {
  id: string;
  blueprint_id: string;
  status: string;
  started_at: number;
  finished_at: number | null;
  duration_ms: number | null;
  failure: string | null;
  parent_id: string | null;
  parent_node: string | null;
  rerun_of: string | null;
  rerun_from: string | null;
  resumes: number;
  resumed_at: number | null;
}

/**
 * The summary of an `executions` row; for a running execution, whether it is an orphan, as `stateOf` (the
 * journal's leases) sees its owner now.
 */
export function summaryOfRow(
  row: ExecutionRow,
  stateOf: (row: OwnerColumns) => OwnerState,
): ExecutionSummary {
  const summary: ExecutionSummary = {
    executionId: row.id,
    blueprintId: row.blueprint_id,
    status: row.status as ExecutionSummary["status"],
    startedAt: row.started_at,
  };
  if (row.finished_at !== null) summary.finishedAt = row.finished_at;
  if (row.duration_ms !== null) summary.durationMs = row.duration_ms;
  if (row.failure !== null)
    summary.failure = parseJsonText(row.failure) as NonNullable<ExecutionSummary["failure"]>;
  const lineage: ExecutionLineage = {};
  if (row.rerun_of !== null) lineage.rerunOf = row.rerun_of;
  if (row.rerun_from !== null) lineage.rerunFrom = row.rerun_from;
  if (row.parent_id !== null) lineage.parentId = row.parent_id;
  if (row.parent_node !== null) lineage.parentNode = row.parent_node;
  if (Object.keys(lineage).length > 0) summary.lineage = lineage;
  if (row.resumes > 0) summary.resumes = row.resumes;
  if (row.resumed_at !== null) summary.resumedAt = row.resumed_at;
  const owner = ownerOfRow(row);
  if (owner !== undefined) summary.owner = owner;
  if (row.status === "running") {
    const state = stateOf(row);
    if (state !== "alive") summary.orphaned = state;
  }
  return summary;
}
