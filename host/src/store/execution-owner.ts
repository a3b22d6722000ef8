import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";

/**
 * The process that runs an execution, as the journal records it: who holds the execution's lease. Other processes
 * on the same journal read it to tell a live execution (leave it alone) from an orphan (its owner died or stopped
 * renewing its lease: resume it).
 */
export interface ExecutionOwner {
  /** Unique per journal opened: two journals in one process are two owners. */
  id: string;
  /** The machine's host name. */
  host: string;
  pid: number;
  /** When the process started, in milliseconds since the epoch (for people). */
  startedAt: number;
  /**
   * What identifies the process beyond its pid, which the system reuses: on Linux the boot id and the process's
   * start time in clock ticks since boot (exact, unlike wall-clock times); empty where the system does not say.
   */
  processKey: string;
  /** What the process is, for messages: `conductor run`, `conductor serve`, or an embedding program. */
  label: string;
}

/** Whether an execution's owner still runs it, as far as another process can tell. */
export type OwnerState =
  /** It runs the execution: its lease is current and, on this machine, its process lives. */
  | "alive"
  /** Its process is gone (on this machine): the execution is an orphan at once. */
  | "dead"
  /** It stopped renewing its lease (frozen, or on another machine and gone): the execution is an orphan. */
  | "expired"
  /** No owner was recorded (a journal written before format 3): treated as an orphan. */
  | "unknown";

/** The owner this process is, for a journal opened now. */
export function createExecutionOwner(label: string): ExecutionOwner {
  return {
    id: randomUUID(),
    host: hostname(),
    pid: process.pid,
    startedAt: Math.round(performance.timeOrigin),
    processKey: processKeyOf(process.pid) ?? "",
    label,
  };
}

/**
 * Tells whether `owner`, holding a lease until `leaseExpiresAt`, still runs its execution, seen from `self` at
 * time `now`. On this machine a process that is gone, or whose pid now belongs to another process, decides at once,
 * without waiting for the lease to run out; an expired lease decides on its own (the owner may be frozen, or on
 * another machine).
 */
export function ownerState(
  owner: ExecutionOwner | undefined,
  leaseExpiresAt: number | undefined,
  self: ExecutionOwner,
  now: number,
  isAlive: (owner: ExecutionOwner) => boolean = processIsAlive,
): OwnerState {
  if (owner === undefined) return "unknown";
  if (owner.id === self.id) return "alive";
  if (owner.host === self.host && !isAlive(owner)) return "dead";
  return leaseExpiresAt === undefined || leaseExpiresAt <= now ? "expired" : "alive";
}

/**
 * Whether the process an owner names runs on this machine: its pid exists and, where the system says, it is the
 * same process (same boot, same start time), not a later one that was given the same pid.
 */
export function processIsAlive(owner: Pick<ExecutionOwner, "pid" | "processKey">): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  if (owner.processKey === "") return true;
  const key = processKeyOf(owner.pid);
  return key === undefined || key === owner.processKey;
}

/** Describes an owner for a message: `conductor run (pid 1234 on host "box", started 2025-…)`. */
export function describeOwner(owner: ExecutionOwner): string {
  return `${owner.label} (pid ${owner.pid} on host "${owner.host}", started ${new Date(owner.startedAt).toISOString()})`;
}

/** `<boot id>:<start time in clock ticks>` of a process on Linux; undefined elsewhere or when it is gone. */
function processKeyOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces and parentheses: count from the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Field 22, starttime; fields[0] is field 3.
    const startTicks = fields[19];
    if (startTicks === undefined) return undefined;
    return `${bootId()}:${startTicks}`;
  } catch {
    return undefined;
  }
}

let cachedBootId: string | undefined;

function bootId(): string {
  cachedBootId ??= readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  return cachedBootId;
}
