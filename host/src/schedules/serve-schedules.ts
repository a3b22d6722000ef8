import { join } from "node:path";
import { createExecutionStarter } from "../api/execution-starter.js";
import { TOKEN_HOLDER } from "../api/identity.js";
import type { Conductor } from "../conductor.js";
import { ConductorError } from "../errors.js";
import { checkInputs } from "../scheduler/check-inputs.js";
import { cronProblem } from "./cron-slots.js";
import { startLocalSchedules } from "./local-schedules.js";
import { type Schedule, schedulesOf } from "./schedule-config.js";
import { ScheduleLedger } from "./schedule-ledger.js";
import type { ScheduleRunner, StartSlot } from "./schedule-runner.js";

/** Options of {@link startSchedules}. */
export interface StartSchedulesOptions {
  /** The journal's database: where a host without Redis records fired slots. */
  journal: string;
  /** A Redis URL: the schedules are shared by every host on it (BullMQ job schedulers) instead. */
  redis?: string | undefined;
  onNotice?: (message: string) => void;
}

/**
 * Starts the project's schedules in this host (`conductor serve`), after checking each one names a blueprint of the
 * project and gives it valid inputs; undefined when the project has none. Without Redis they run from the journal,
 * with it they are shared by every host on that Redis (docs/project.md, "Schedules").
 */
export async function startSchedules(
  conductor: Conductor,
  options: StartSchedulesOptions,
): Promise<ScheduleRunner | undefined> {
  const schedules = schedulesOf(conductor.project.schedules);
  if (schedules.length === 0) return undefined;
  await checkSchedules(conductor, schedules);
  const starter = createExecutionStarter(conductor);
  const start: StartSlot = async (schedule, _slot, executionId) => {
    const prepared = await starter.prepare({ case: "blueprintId", value: schedule.blueprint }, TOKEN_HOLDER);
    prepared.start(schedule.inputs, { executionId });
  };
  if (options.redis !== undefined && options.redis !== "") {
    // Loaded only here: a host without Redis never loads BullMQ.
    const { startRedisSchedules } = await import("./redis-schedules.js");
    return startRedisSchedules({
      redis: options.redis,
      schedules,
      start,
      ...(options.onNotice === undefined ? {} : { onNotice: options.onNotice }),
    });
  }
  const ledger = await ScheduleLedger.open(options.journal);
  const runner = await startLocalSchedules({
    schedules,
    ledger,
    start,
    ...(options.onNotice === undefined ? {} : { onNotice: options.onNotice }),
  });
  return {
    mode: runner.mode,
    list: () => runner.list(),
    async stop() {
      await runner.stop();
      ledger.close();
    },
  };
}

/**
 * Checks that every schedule names a blueprint of the project and that its inputs are the blueprint's: an error
 * naming the schedule's field in conductor.yaml, expected against found.
 */
export async function checkSchedules(conductor: Conductor, schedules: readonly Schedule[]): Promise<void> {
  const blueprints = await conductor.blueprints();
  const where = conductor.project.file ?? "the project";
  for (const schedule of schedules) {
    const problem = await cronProblem(schedule.cron, schedule.timezone);
    if (problem !== undefined) {
      throw new ConductorError("project_invalid", `${where}: schedules.${schedule.id}.cron: ${problem}`);
    }
    const entry = blueprints.find((blueprint) => blueprint.id === schedule.blueprint);
    if (entry === undefined) {
      throw new ConductorError(
        "project_invalid",
        `${where}: schedules.${schedule.id}.blueprint: the project has no blueprint "${schedule.blueprint}"; its blueprints are ${blueprints.map((blueprint) => `"${blueprint.id}"`).join(", ") || "(none)"}`,
      );
    }
    const prepared = await conductor.prepare(join(conductor.project.dir, entry.path));
    try {
      checkInputs(prepared.graph, schedule.inputs);
    } catch (error) {
      if (!(error instanceof ConductorError)) throw error;
      throw new ConductorError(
        "project_invalid",
        `${where}: schedules.${schedule.id}.inputs do not fit blueprint "${schedule.blueprint}": ${error.message}`,
        { cause: error },
      );
    }
  }
}
