import type { Conductor } from "../conductor.js";
import { loadCronSlots } from "./cron-slots.js";
import { schedulesOf } from "./schedule-config.js";
import type { ScheduleState } from "./schedule-runner.js";

/** The schedules of a project as configured, with their next slot: what a server that runs none lists. */
export async function configuredSchedules(
  conductor: Pick<Conductor, "project">,
  now = Date.now(),
): Promise<ScheduleState[]> {
  const createCronSlots = await loadCronSlots();
  return schedulesOf(conductor.project.schedules).map((schedule) => ({
    schedule,
    next: createCronSlots(schedule.cron, schedule.timezone).after(now),
  }));
}
