import { describe, expect, it } from "vitest";
import { parseProject } from "../project/project-config.js";
import { cronProblem } from "./cron-slots.js";
import { schedulesOf, slotExecutionId } from "./schedule-config.js";

function project(schedules: string): () => unknown {
  return () => parseProject(`conductor: project/v1\nschedules:\n${schedules}`, "/p/conductor.yaml");
}

describe("schedules in conductor.yaml", () => {
  it("reads a schedule with its defaults", () => {
    const parsed = parseProject(
      'conductor: project/v1\nschedules:\n  nightly: { blueprint: report, cron: "0 2 * * *", inputs: { day: 1 } }\n',
      "/p/conductor.yaml",
    );
    expect(schedulesOf(parsed.schedules)).toEqual([
      {
        id: "nightly",
        blueprint: "report",
        cron: "0 2 * * *",
        timezone: "UTC",
        inputs: { day: 1 },
        catchUp: "latest",
      },
    ]);
  });

  it("reads a pinned deployed version, and refuses one that is not a positive integer", () => {
    const parsed = parseProject(
      'conductor: project/v1\nschedules:\n  nightly: { blueprint: report, version: 3, cron: "0 2 * * *" }\n',
      "/p/conductor.yaml",
    );
    expect(schedulesOf(parsed.schedules)[0]).toMatchObject({
      id: "nightly",
      blueprint: "report",
      version: 3,
    });
    expect(project('  n: { blueprint: r, version: 0, cron: "* * * * *" }\n')).toThrow(
      /schedules\.n\.version/,
    );
    expect(project('  n: { blueprint: r, version: "latest", cron: "* * * * *" }\n')).toThrow(
      /schedules\.n\.version/,
    );
  });

  it("names the field of a bad cron expression, expected against found", () => {
    expect(project('  nightly: { blueprint: report, cron: "0 2 * *" }\n')).toThrow(
      /schedules\.nightly\.cron: expected 5 fields \(minute hour day-of-month month day-of-week\) or 6 \(seconds first\), got 4 in "0 2 \* \*"/,
    );
  });

  it("names an unknown time zone, a misspelt field and a bad catch-up policy", () => {
    expect(project('  n: { blueprint: r, cron: "* * * * *", timezone: Mars/Olympus }\n')).toThrow(
      /schedules\.n\.timezone: time zone "Mars\/Olympus" is not an IANA time zone/,
    );
    expect(project('  n: { blueprint: r, cron: "* * * * *", timezon: UTC }\n')).toThrow(
      /schedules\.n: .*timezon/,
    );
    expect(project('  n: { blueprint: r, cron: "* * * * *", catchUp: all }\n')).toThrow(
      /schedules\.n\.catchUp/,
    );
    expect(project('  Nightly: { blueprint: r, cron: "* * * * *" }\n')).toThrow(/schedules\.Nightly/);
  });

  it("finds a bad expression when schedules are run or listed (cron-parser loads only then)", async () => {
    expect(await cronProblem("0 25 * * *", "UTC")).toMatch(/^"0 25 \* \* \*" is not a cron expression: .*25/);
    expect(await cronProblem("0 2 * * *", "Europe/Paris")).toBeUndefined();
  });

  it("gives each slot an execution id naming the schedule and the instant", () => {
    expect(slotExecutionId("nightly", Date.UTC(2026, 11, 2, 1, 0, 0))).toBe("nightly-20261202T010000Z");
  });
});
