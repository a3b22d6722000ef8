import { ConnectError } from "@connectrpc/connect";
import { createExecutionStarter, type ExecutionStarter } from "../api/execution-starter.js";
import { TOKEN_HOLDER } from "../api/identity.js";
import type { Conductor, PreparedBlueprint } from "../conductor.js";
import { ConductorError } from "../errors.js";
import { checkInputs } from "../scheduler/check-inputs.js";
import { openDeploymentStore } from "../tenancy/deployment-store.js";
import { createDeployments, type Deployments } from "../tenancy/deployments.js";
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
  /**
   * The project's deployments (default: opened from `.conductor/tenancy.db`): a schedule runs a deployed version of
   * its blueprint in the default namespace, the one it pins or the current one at fire time, before the project's file.
   */
  deployments?: Deployments;
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
  const store = options.deployments === undefined ? openDeploymentStore(conductor.project.dir) : undefined;
  const deployments = options.deployments ?? createDeployments(conductor, store!);
  const starter = createExecutionStarter(conductor, deployments);
  try {
    await checkSchedules(conductor, schedules, starter);
  } catch (error) {
    store?.close();
    throw error;
  }
  const start: StartSlot = async (schedule, _slot, executionId) => {
    // Resolved at fire time: a schedule without a version runs what is current then (docs/project.md, "Schedules").
    const prepared = await starter.prepare(
      { case: "blueprintId", value: schedule.blueprint },
      TOKEN_HOLDER,
      schedule.version,
    );
    const handle = prepared.start(schedule.inputs, { executionId });
    // The version the execution runs is recorded with it, as for a start through the API.
    starter.recordStart(prepared, handle.executionId);
  };
  const closeStore = () => store?.close();
  if (options.redis !== undefined && options.redis !== "") {
    // Loaded only here: a host without Redis never loads BullMQ.
    const { startRedisSchedules } = await import("./redis-schedules.js");
    const runner = await startRedisSchedules({
      redis: options.redis,
      schedules,
      start,
      ...(options.onNotice === undefined ? {} : { onNotice: options.onNotice }),
    }).catch((error: unknown) => {
      closeStore();
      throw error;
    });
    return {
      mode: runner.mode,
      list: () => runner.list(),
      async stop() {
        await runner.stop();
        closeStore();
      },
    };
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
      closeStore();
    },
  };
}

/**
 * Checks that every schedule names a blueprint of the project (a file, or deployed to the default namespace), the
 * version it pins exists, and its inputs are that blueprint's (as it is now, for a schedule without a version): an
 * error naming the schedule's field in conductor.yaml, expected against found.
 */
export async function checkSchedules(
  conductor: Conductor,
  schedules: readonly Schedule[],
  starter: ExecutionStarter = createExecutionStarter(conductor),
): Promise<void> {
  const where = conductor.project.file ?? "the project";
  for (const schedule of schedules) {
    const problem = await cronProblem(schedule.cron, schedule.timezone);
    if (problem !== undefined) {
      throw new ConductorError("project_invalid", `${where}: schedules.${schedule.id}.cron: ${problem}`);
    }
    let prepared: PreparedBlueprint;
    try {
      prepared = await starter.prepare(
        { case: "blueprintId", value: schedule.blueprint },
        TOKEN_HOLDER,
        schedule.version,
      );
    } catch (error) {
      if (!(error instanceof ConnectError) && !isUnreadable(error)) throw error;
      const field = schedule.version === undefined ? "blueprint" : "version";
      const reason = error instanceof ConnectError ? error.rawMessage : (error as Error).message;
      throw new ConductorError("project_invalid", `${where}: schedules.${schedule.id}.${field}: ${reason}`, {
        cause: error,
      });
    }
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

function isUnreadable(error: unknown): boolean {
  return error instanceof ConductorError && error.code === "blueprint_unreadable";
}
