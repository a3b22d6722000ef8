import { type CronSlots, loadCronSlots } from "./cron-slots.js";
import { type Schedule, slotExecutionId } from "./schedule-config.js";
import type { ScheduleLedger } from "./schedule-ledger.js";
import {
  MAX_TIMER_MS,
  type ScheduleClock,
  type ScheduleRunner,
  type ScheduleState,
  type StartSlot,
  SYSTEM_CLOCK,
} from "./schedule-runner.js";

/** Options of {@link startLocalSchedules}. */
export interface LocalSchedulesOptions {
  schedules: readonly Schedule[];
  /** Where fired slots are recorded: the journal's database. */
  ledger: ScheduleLedger;
  start: StartSlot;
  /** Receives what happens: slots fired, caught up or skipped, starts that failed. */
  onNotice?: (message: string) => void;
  clock?: ScheduleClock;
}

/**
 * Runs schedules from this host's journal: a timer per schedule fires each slot when it comes; a slot is claimed in
 * the journal's database before its execution starts, so it fires once across restarts and once among the hosts
 * sharing the journal. On start, slots that passed while no scheduler ran follow the schedule's catch-up policy:
 * `latest` starts one execution, for the last of them; `none` skips them. A schedule seen for the first time has
 * no missed slots.
 */
export async function startLocalSchedules(options: LocalSchedulesOptions): Promise<ScheduleRunner> {
  const createCronSlots = await loadCronSlots();
  const clock = options.clock ?? SYSTEM_CLOCK;
  const notice = options.onNotice ?? (() => {});
  const starting = new Set<Promise<void>>();
  const cancels = new Map<string, () => void>();
  let stopped = false;

  const fire = (schedule: Schedule, slot: number, caughtUp: boolean) => {
    const executionId = slotExecutionId(schedule.id, slot);
    if (!options.ledger.claim(schedule.id, slot, executionId, clock.now())) return;
    if (caughtUp) {
      notice(
        `schedule "${schedule.id}": catching up on the slot of ${new Date(slot).toISOString()}, missed while no scheduler ran (catchUp: latest); execution ${executionId}`,
      );
    }
    const started = options
      .start(schedule, slot, executionId)
      .catch((error: Error) =>
        notice(
          `schedule "${schedule.id}": could not start blueprint "${schedule.blueprint}" for the slot of ${new Date(slot).toISOString()}: ${error.message}`,
        ),
      )
      .finally(() => starting.delete(started));
    starting.add(started);
  };

  const arm = (schedule: Schedule, slots: CronSlots, after: number) => {
    if (stopped) return;
    const next = slots.after(after);
    const wait = Math.min(Math.max(0, next - clock.now()), MAX_TIMER_MS);
    cancels.set(
      schedule.id,
      clock.setTimer(() => {
        if (stopped) return;
        const now = clock.now();
        // A timer may wake before its time (or be a long wait set again): wait on.
        if (now < next) return arm(schedule, slots, after);
        // The slot due now; later than `next` only when the process slept through slots (a suspended machine).
        const due = slots.before(now + 1) ?? next;
        fire(schedule, due, false);
        arm(schedule, slots, now);
      }, wait),
    );
  };

  const all = options.schedules.map((schedule) => ({
    schedule,
    slots: createCronSlots(schedule.cron, schedule.timezone),
  }));
  for (const { schedule, slots } of all) {
    const now = clock.now();
    const since = options.ledger.since(schedule.id, now);
    const last = options.ledger.last(schedule.id);
    const missed = slots.before(now);
    if (missed !== undefined && missed > since && missed > (last?.slot ?? Number.NEGATIVE_INFINITY)) {
      if (schedule.catchUp === "latest") fire(schedule, missed, true);
      else {
        notice(
          `schedule "${schedule.id}": skipping the slots missed while no scheduler ran, the last at ${new Date(missed).toISOString()} (catchUp: none)`,
        );
      }
    }
    arm(schedule, slots, now - 1);
  }

  return {
    mode: "local",
    async list(): Promise<ScheduleState[]> {
      const now = clock.now();
      return all.map(({ schedule, slots }) => {
        const last = options.ledger.last(schedule.id);
        return { schedule, next: slots.after(now), ...(last === undefined ? {} : { last }) };
      });
    },
    async stop() {
      stopped = true;
      for (const cancel of cancels.values()) cancel();
      cancels.clear();
      await Promise.all([...starting]);
    },
  };
}
