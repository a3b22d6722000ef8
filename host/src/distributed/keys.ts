/**
 * The names Conductor uses in Redis, in one place: BullMQ queues (prefix `conductor`), the worker registry, the
 * node types each runtime's workers advertise, and the pub/sub channels of live events and cancellations.
 */

/** The BullMQ key prefix of every queue. */
export const QUEUE_PREFIX = "conductor";

/** Hash: worker id → its {@link WorkerInfo} as JSON, renewed at each heartbeat. */
export const WORKERS_KEY = "conductor:workers";

/** String: what the workers of runtime `runtime` advertise (description and node types), as JSON. */
export function runtimeKey(runtime: string): string {
  return `conductor:runtime:${runtime}`;
}

/** Channel the workers listen on for cancellations: `{ j: jobId, r: reason, g: graceMs }` as JSON. */
export const CANCEL_CHANNEL = "conductor:cancel";

/** Channel of one scheduler's live events (binary: see `encodeLiveEvent` in job-data.ts). */
export function eventsChannel(dispatcherId: string): string {
  return `conductor:events:${dispatcherId}`;
}

/**
 * The queue of the invocations of `runtime` that need `labels` (none: any worker serving the runtime). A worker
 * with labels L takes from the queues of every subset of L, so a node needing [gpu] reaches every worker that has
 * gpu among its labels.
 */
export function queueName(runtime: string, labels: readonly string[] = []): string {
  const sorted = [...new Set(labels)].sort();
  return sorted.length === 0 ? `run.${safe(runtime)}` : `run.${safe(runtime)}.${sorted.map(safe).join("+")}`;
}

/** Every label set a worker with `labels` serves: all subsets (the empty one too). At most 2^MAX_LABELS. */
export function labelSubsets(labels: readonly string[]): string[][] {
  const unique = [...new Set(labels)].sort();
  const subsets: string[][] = [[]];
  for (const label of unique) {
    for (const subset of [...subsets]) subsets.push([...subset, label]);
  }
  return subsets;
}

/** A worker advertises at most this many labels (it serves a queue per subset). */
export const MAX_LABELS = 6;

/**
 * The BullMQ job id of one invocation: deterministic, so that a scheduler that restarts finds the job it added
 * before (and its result, kept until it expires) instead of running the node again.
 */
export function jobId(executionId: string, nodeId: string, attempt: number): string {
  return `${safe(executionId)}~${safe(nodeId)}~${attempt}`;
}

/** BullMQ refuses ':' in queue names and job ids. */
function safe(text: string): string {
  return text.replaceAll(":", "%3A");
}

/** Labels are names: letters, digits, '-', '_' and '.', which keeps queue names readable and unambiguous. */
export const LABEL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Hash: node id → the job that last ran it, for one execution (a restarted scheduler finds its jobs by them). */
export function executionJobsKey(executionId: string): string {
  return `conductor:exec:${executionId}:jobs`;
}

/** Set: the jobs of one execution whose every event its scheduler delivered (they are never collected again). */
export function collectedKey(executionId: string): string {
  return `conductor:exec:${executionId}:collected`;
}

/** The BullMQ queue of schedule slots: one job scheduler per schedule (`upsertJobScheduler`), one job per slot. */
export const SCHEDULES_QUEUE = "schedules";

/** String, set once (NX) with an expiry: the execution that slot `slot` of schedule `schedule` started. */
export function scheduleSlotKey(schedule: string, slot: number): string {
  return `conductor:schedule-slot:${schedule}:${slot}`;
}

/** Hash: schedule id → its last fired slot as JSON (`{slot, executionId, firedAt}`). */
export const SCHEDULES_LAST_KEY = "conductor:schedules:last";

/**
 * The feature a remote runtime adds to its description (in the host only, never on the wire): its nodes run on
 * workers, so they may require worker labels (`runsOn`). Blueprint validation refuses `runsOn` on other runtimes.
 */
export const WORKER_LABELS_FEATURE = "conductor.worker-labels";

/** Hash: the size and chunk count of one blob of an execution (distributed/redis-blob-store.ts). */
export function blobKey(executionId: string, sha256: string): string {
  return `conductor:blob:${executionId}:${sha256}`;
}

/** String: chunk `index` (from 0) of one blob of an execution. */
export function blobChunkKey(executionId: string, sha256: string, index: number): string {
  return `conductor:blob:${executionId}:${sha256}:${index}`;
}

/** Set: `<sha256>:<chunks>` of each blob of an execution in the Redis blob store, for removing them when it ends. */
export function executionBlobsKey(executionId: string): string {
  return `conductor:exec:${executionId}:blobs`;
}

/** The BullMQ queue of executions started on any scheduler sharing one Redis (`--queue`): one scheduler takes each. */
export const EXECUTIONS_QUEUE = "executions";

/** The BullMQ job id of a shared execution's start. */
export function executionJobId(executionId: string): string {
  return safe(executionId);
}

/** Stream: every event of a shared execution, as JSON in field `e`, written by the scheduler that runs it. */
export function executionEventsKey(executionId: string): string {
  return `conductor:exec:${executionId}:events`;
}

/** String, set once (NX): the scheduler that took a shared execution (a re-delivered start finds it and stops). */
export function executionOwnerKey(executionId: string): string {
  return `conductor:exec:${executionId}:owner`;
}

/** Channel of cancellations of shared executions: `{ executionId, reason }` as JSON; their scheduler acts on it. */
export const EXECUTION_CANCEL_CHANNEL = "conductor:executions:cancel";
