/**
 * The catch-up policy of schedules shared through a real Redis. Slots missed while no scheduler ran are slot jobs
 * that waited in the `schedules` queue; here they are put there as they would have waited (jobs of minutes ago),
 * and two schedulers on one Redis take them: with `catchUp: latest` one execution starts, for the last slot that
 * passed, however many missed jobs and schedulers there are; with `catchUp: none` none starts and each scheduler
 * that took a missed job says it skipped it. The schedule's own cron (once a year) fires no slot during the test.
 */
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadCronSlots } from "../../host/dist/schedules/cron-slots.js";
import { startRedisSchedules } from "../../host/dist/schedules/redis-schedules.js";
import type { Schedule } from "../../host/dist/schedules/schedule-config.js";
import { slotExecutionId } from "../../host/dist/schedules/schedule-config.js";
import type { ScheduleRunner } from "../../host/dist/schedules/schedule-runner.js";
import { waitFor } from "./dist-project.js";
import { startRedis, type TestRedis } from "./redis-server.js";

const YEARLY = "0 0 1 1 *";

describe("missed schedule slots through Redis", () => {
  let redis: TestRedis;
  let runners: ScheduleRunner[] = [];

  beforeEach(async () => {
    redis = await startRedis();
    runners = [];
  });

  afterEach(async () => {
    for (const runner of runners) await runner.stop();
    await redis?.stop();
  });

  /** Puts the jobs of slots missed `minutesAgo` in the schedules queue, as a job scheduler left them. */
  const leaveMissedSlots = async (schedule: Schedule, minutesAgo: number[]) => {
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue("schedules", { connection, prefix: "conductor" });
    const now = Date.now();
    for (const minutes of minutesAgo)
      await queue.add(
        schedule.id,
        { schedule },
        { jobId: `missed-${minutes}`, timestamp: now - minutes * 60_000 },
      );
    await queue.close();
    connection.disconnect();
  };

  const startTwo = async (schedule: Schedule) => {
    const started: string[] = [];
    const notices: string[] = [];
    for (const name of ["a", "b"])
      runners.push(
        await startRedisSchedules({
          redis: redis.url,
          schedules: [schedule],
          name: `catch-up-${name}`,
          onNotice: (message) => notices.push(message),
          start: async (_schedule, _slot, executionId) => {
            started.push(executionId);
          },
        }),
      );
    return { started, notices };
  };

  /** Waits until the missed jobs were all taken (completed). */
  const taken = async (count: number) => {
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue("schedules", { connection, prefix: "conductor" });
    try {
      await waitFor(
        "the missed slots' jobs to be taken",
        async () => (await queue.getCompletedCount()) >= count,
      );
    } finally {
      await queue.close();
      connection.disconnect();
    }
  };

  it("runs one execution, for the last slot that passed, with catchUp: latest", async () => {
    const schedule: Schedule = {
      id: "yearly",
      blueprint: "echo",
      cron: YEARLY,
      timezone: "UTC",
      inputs: {},
      catchUp: "latest",
    };
    await leaveMissedSlots(schedule, [7, 5, 3]);
    const { started, notices } = await startTwo(schedule);
    await taken(3);
    const last = (await loadCronSlots())(YEARLY, "UTC").before(Date.now() + 1)!;
    expect(started).toEqual([slotExecutionId("yearly", last)]);
    expect(notices.filter((notice) => notice.includes("catching up"))).toEqual([
      `schedule "yearly": catching up on the slot of ${new Date(last).toISOString()}, missed while no scheduler ran (catchUp: latest); execution ${started[0]}`,
    ]);
  });

  it("starts nothing and says so with catchUp: none", async () => {
    const schedule: Schedule = {
      id: "yearly",
      blueprint: "echo",
      cron: YEARLY,
      timezone: "UTC",
      inputs: {},
      catchUp: "none",
    };
    await leaveMissedSlots(schedule, [6, 4]);
    const { started, notices } = await startTwo(schedule);
    await taken(2);
    expect(started).toEqual([]);
    expect(notices.filter((notice) => notice.includes("skipping")).length).toBe(2);
    expect(notices.filter((notice) => notice.includes("skipping"))[0]).toMatch(
      /^schedule "yearly": skipping the slot of .*, missed while no scheduler ran \(catchUp: none\)$/,
    );
  });
});
