import { z } from "zod";
import { cronShapeProblem } from "./cron-slots.js";

/** What a schedule does with the slots that passed while no scheduler ran (docs/project.md, "Schedules"). */
export type CatchUp = "latest" | "none";

/** The id rule of a schedule: it names the schedule in `conductor schedules`, Redis keys and execution ids. */
export const SCHEDULE_ID = /^[a-z][a-z0-9-]*$/;

const scheduleSpec = z
  .strictObject({
    blueprint: z
      .string()
      .min(1)
      .describe(
        "The id of the blueprint the schedule starts: a blueprint file of the project, or one deployed (conductor deploy) to the default namespace.",
      ),
    version: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        "A deployed version of the blueprint to run at every firing (pinned). Default: what the id names at fire time, the current deployed version, else the project's file.",
      ),
    cron: z
      .string()
      .min(1)
      .describe(
        'When it fires: a cron expression of 5 fields (minute hour day-of-month month day-of-week, e.g. "0 2 * * *") or 6 (seconds first).',
      ),
    timezone: z
      .string()
      .optional()
      .describe('The IANA time zone the expression is read in, e.g. "Europe/Paris". Default "UTC".'),
    inputs: z
      .record(z.string(), z.unknown())
      .optional()
      .describe("The inputs each execution is started with, checked against the blueprint's inputs."),
    catchUp: z
      .enum(["latest", "none"])
      .optional()
      .describe(
        'Slots missed while no scheduler ran: "latest" (default) runs one execution for them when a scheduler is back; "none" skips them.',
      ),
  })
  .superRefine((spec, context) => {
    const problem = cronShapeProblem(spec.cron, spec.timezone ?? "UTC");
    if (problem !== undefined) {
      context.addIssue({
        code: "custom",
        path: problem.startsWith("time zone") ? ["timezone"] : ["cron"],
        message: problem,
      });
    }
  })
  .describe("A schedule: a project blueprint started on a cron schedule, with inputs.");

/** `schedules` in conductor.yaml: schedule id → schedule. */
export const schedulesSchema = z
  .record(
    z.string().regex(SCHEDULE_ID).describe("The schedule's id: lowercase letters, digits and dashes."),
    scheduleSpec,
  )
  .describe(
    "Blueprints started on a cron schedule by conductor serve, by schedule id. See docs/project.md, Schedules.",
  );

/** One schedule as conductor.yaml gives it. */
export type ScheduleSpec = z.infer<typeof scheduleSpec>;

/** One schedule with its defaults applied. */
export interface Schedule {
  id: string;
  blueprint: string;
  /** The deployed version every firing runs; undefined for "latest at fire time". */
  version?: number;
  cron: string;
  timezone: string;
  inputs: Record<string, unknown>;
  catchUp: CatchUp;
}

/** The schedules of a project's `schedules` field, with their defaults, sorted by id. */
export function schedulesOf(specs: Record<string, ScheduleSpec> | undefined): Schedule[] {
  return Object.entries(specs ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([id, spec]) => ({
      id,
      blueprint: spec.blueprint,
      ...(spec.version === undefined ? {} : { version: spec.version }),
      cron: spec.cron.trim(),
      timezone: spec.timezone ?? "UTC",
      inputs: spec.inputs ?? {},
      catchUp: spec.catchUp ?? "latest",
    }));
}

/**
 * The id of the execution a schedule starts for a slot: the same on every host and after every restart, so a slot
 * names its execution (`nightly-20261202T020000Z`).
 */
export function slotExecutionId(scheduleId: string, slot: number): string {
  return `${scheduleId}-${new Date(slot)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}`;
}
