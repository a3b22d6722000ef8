import { ConductorError } from "../errors.js";
import { findProject } from "../project/project-config.js";
import { cronProblem, loadCronSlots } from "../schedules/cron-slots.js";
import { schedulesOf } from "../schedules/schedule-config.js";
import { ScheduleLedger } from "../schedules/schedule-ledger.js";
import type { ScheduleState } from "../schedules/schedule-runner.js";
import { type CommandContext, EXIT, parseCommandArgs, reportError } from "./command.js";
import { journalPath } from "./open-conductor.js";

/**
 * `conductor schedules`: the project's schedules (conductor.yaml `schedules`) with their next slot and the last slot
 * fired, from the project's journal, or from Redis with --redis (where servers sharing a Redis keep them).
 */
export default async function schedules(context: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(context, {
    options: { project: { type: "string" }, redis: { type: "string" }, json: { type: "boolean" } },
  });
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  const json = values.json === true;
  try {
    const project = await findProject(values.project ?? process.cwd());
    const configured = schedulesOf(project.schedules);
    const redis = values.redis ?? process.env.CONDUCTOR_REDIS;
    let states: ScheduleState[];
    if (redis !== undefined && redis !== "") {
      // Loaded only here: listing from the journal never loads BullMQ.
      const { listRedisSchedules } = await import("../schedules/redis-schedules.js");
      states = await listRedisSchedules(redis, configured);
    } else {
      const now = Date.now();
      const createCronSlots = await loadCronSlots();
      for (const schedule of configured) {
        const problem = await cronProblem(schedule.cron, schedule.timezone);
        if (problem !== undefined) {
          throw new ConductorError(
            "project_invalid",
            `${project.file}: schedules.${schedule.id}.cron: ${problem}`,
          );
        }
      }
      const last = await ScheduleLedger.readLast(
        journalPath(project.dir),
        configured.map((schedule) => schedule.id),
      );
      states = configured.map((schedule) => {
        const fired = last.get(schedule.id);
        return {
          schedule,
          next: createCronSlots(schedule.cron, schedule.timezone).after(now),
          ...(fired === undefined ? {} : { last: fired }),
        };
      });
    }
    if (json) {
      const rows = states.map(({ schedule, next, last }) => ({
        ...schedule,
        next: next === undefined ? null : new Date(next).toISOString(),
        last:
          last === undefined
            ? null
            : {
                slot: new Date(last.slot).toISOString(),
                executionId: last.executionId,
                firedAt: new Date(last.firedAt).toISOString(),
              },
      }));
      context.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return EXIT.ok;
    }
    if (states.length === 0) {
      context.stdout.write(
        "the project has no schedules; add them under schedules: in conductor.yaml (docs/project.md, Schedules)\n",
      );
      return EXIT.ok;
    }
    const table = [
      ["SCHEDULE", "BLUEPRINT", "CRON", "TIME ZONE", "NEXT (UTC)", "LAST FIRED", "EXECUTION"],
      ...states.map(({ schedule, next, last }) => [
        schedule.id,
        // A pinned version as `conductor deployments` names it: `report@4`.
        schedule.version === undefined ? schedule.blueprint : `${schedule.blueprint}@${schedule.version}`,
        schedule.cron,
        schedule.timezone,
        next === undefined ? "-" : utc(next),
        last === undefined ? "-" : utc(last.slot),
        last?.executionId ?? "-",
      ]),
    ];
    const widths = table[0]!.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
    for (const row of table) {
      context.stdout.write(
        `${row
          .map((cell, column) => cell.padEnd(widths[column]!))
          .join("  ")
          .trimEnd()}\n`,
      );
    }
    return EXIT.ok;
  } catch (error) {
    return reportError(context, error, json);
  }
}

function utc(time: number): string {
  return new Date(time)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, "Z");
}
