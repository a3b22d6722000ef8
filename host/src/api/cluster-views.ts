import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { stringifyJson } from "@conductor/sdk/protocol";
import type { ListedWorker } from "../distributed/worker-registry.js";
import type { ScheduleMode, ScheduleState } from "../schedules/schedule-runner.js";

/** What a server knows of its schedules: those it runs (with their fired slots), or none. */
export interface ScheduleSource {
  mode: ScheduleMode | "none";
  list(): Promise<ScheduleState[]>;
}

/** Where a server finds the workers of its Redis (none without Redis). */
export type WorkerSource = (options: { all: boolean }) => Promise<ListedWorker[]>;

/** A schedule as ListSchedules answers it. */
export function toApiSchedule(state: ScheduleState) {
  const { schedule, next, last } = state;
  return {
    id: schedule.id,
    blueprintId: schedule.blueprint,
    cron: schedule.cron,
    timezone: schedule.timezone,
    inputsJson: stringifyJson(schedule.inputs),
    catchUp: schedule.catchUp,
    ...(schedule.version === undefined ? {} : { version: schedule.version }),
    ...(next === undefined ? {} : { nextSlot: timestampFromMs(next) }),
    ...(last === undefined
      ? {}
      : {
          lastSlot: timestampFromMs(last.slot),
          lastExecutionId: last.executionId,
          lastFiredAt: timestampFromMs(last.firedAt),
        }),
  };
}

/** A worker as ListWorkers answers it. */
export function toApiWorker(worker: ListedWorker) {
  return {
    id: worker.id,
    hostname: worker.hostname,
    pid: worker.pid,
    labels: worker.labels,
    runtimes: worker.runtimes,
    inFlight: worker.inFlight,
    done: BigInt(worker.done),
    state: worker.state,
    alive: worker.alive,
    startedAt: timestampFromMs(Date.parse(worker.startedAt)),
    lastHeartbeat: timestampFromMs(Date.parse(worker.lastHeartbeat)),
  };
}
