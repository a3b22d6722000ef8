import type { Schedule } from "./schedule-config.js";
import type { FiredSlot } from "./schedule-ledger.js";

/** Starts the execution of one slot of a schedule, with the id the slot names; rejects when it cannot start. */
export type StartSlot = (schedule: Schedule, slot: number, executionId: string) => Promise<void>;

/** What a scheduler knows of one schedule, for `conductor schedules` and ListSchedules. */
export interface ScheduleState {
  schedule: Schedule;
  /** The next slot (milliseconds since the epoch), or undefined when the expression has no more. */
  next?: number;
  /** The last slot fired, when one is known. */
  last?: FiredSlot;
}

/** Where a scheduler keeps the fired slots: the journal of this host, or Redis shared by many hosts. */
export type ScheduleMode = "local" | "redis";

/** Schedules being run by this process (`conductor serve`). */
export interface ScheduleRunner {
  readonly mode: ScheduleMode;
  /** Every schedule with its next and last slots. */
  list(): Promise<ScheduleState[]>;
  /** Stops firing; waits for the starts in progress. */
  stop(): Promise<void>;
}

/** Time as a scheduler sees it; tests give a clock they move by hand. */
export interface ScheduleClock {
  now(): number;
  /** Calls `callback` once after `ms` milliseconds; the function returned cancels it. */
  setTimer(callback: () => void, ms: number): () => void;
}

/** The clock of the machine. */
export const SYSTEM_CLOCK: ScheduleClock = {
  now: Date.now,
  setTimer(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** Longest a timer may be set for (setTimeout's limit is about 24.8 days); a longer wait is set again. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
