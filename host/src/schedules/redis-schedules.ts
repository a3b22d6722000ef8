import { type Job, Queue, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { QUEUE_PREFIX, SCHEDULES_LAST_KEY, SCHEDULES_QUEUE, scheduleSlotKey } from "../distributed/keys.js";
import { connectRedis } from "../distributed/redis-connection.js";
import { type CronSlotsFactory, loadCronSlots } from "./cron-slots.js";
import { type Schedule, slotExecutionId } from "./schedule-config.js";
import type { FiredSlot } from "./schedule-ledger.js";
import {
  type ScheduleClock,
  type ScheduleRunner,
  type ScheduleState,
  type StartSlot,
  SYSTEM_CLOCK,
} from "./schedule-runner.js";

/** A slot taken later than this after its time was missed (no scheduler ran): it follows the catch-up policy. */
export const LATE_MS = 60_000;

/** How long the claim of a slot is kept in Redis (7 days): far longer than a job can wait to be re-delivered. */
export const SLOT_CLAIM_TTL_MS = 7 * 24 * 3_600_000;

/** Options of {@link startRedisSchedules}. */
export interface RedisSchedulesOptions {
  redis: string;
  schedules: readonly Schedule[];
  start: StartSlot;
  onNotice?: (message: string) => void;
  /** A name for this process in Redis' client list. */
  name?: string;
  clock?: ScheduleClock;
}

/** What a slot's job carries: the schedule as the last host to upsert it gave it. */
interface SlotJob {
  schedule: Schedule;
}

/**
 * Runs schedules shared by every host on one Redis: each host upserts a BullMQ job scheduler per schedule (the same
 * id and pattern give the same job per slot, so however many hosts upsert, a slot has one job), and takes slot jobs
 * with a BullMQ worker: one host gets each. Before starting the execution the host claims the slot with a Redis
 * `SET NX`, so a job re-delivered after its host died mid-start does not start the slot twice. Job schedulers the
 * project no longer lists are removed. A slot taken more than a minute late (every host was down) follows the
 * catch-up policy: `latest` runs it as the last slot that passed, `none` skips it.
 */
export async function startRedisSchedules(options: RedisSchedulesOptions): Promise<ScheduleRunner> {
  const clock = options.clock ?? SYSTEM_CLOCK;
  const createCronSlots = await loadCronSlots();
  const notice = options.onNotice ?? (() => {});
  const name = options.name ?? `conductor-schedules-${process.pid}`;
  const commands = connectRedis(options.redis, name);
  const blocking = connectRedis(options.redis, `${name}-worker`);
  const queue = new Queue<SlotJob>(SCHEDULES_QUEUE, { connection: commands, prefix: QUEUE_PREFIX });
  queue.on("error", () => {});
  const configured = new Set(options.schedules.map((schedule) => schedule.id));
  try {
    for (const existing of await queue.getJobSchedulers(0, -1)) {
      const id = existing.key;
      if (!configured.has(id)) {
        await queue.removeJobScheduler(id);
        notice(`schedule "${id}": removed from Redis, the project no longer lists it`);
      }
    }
    for (const schedule of options.schedules) {
      await queue.upsertJobScheduler(
        schedule.id,
        { pattern: schedule.cron, tz: schedule.timezone },
        {
          name: schedule.id,
          data: { schedule },
          opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
        },
      );
    }
  } catch (error) {
    await queue.close().catch(() => {});
    commands.disconnect();
    blocking.disconnect();
    throw error;
  }

  const run = async (job: Job<SlotJob>) => {
    const schedule = job.data.schedule;
    let slot = slotOfJob(job);
    const now = clock.now();
    if (now - slot > LATE_MS) {
      if (schedule.catchUp === "none") {
        notice(
          `schedule "${schedule.id}": skipping the slot of ${new Date(slot).toISOString()}, missed while no scheduler ran (catchUp: none)`,
        );
        return { skipped: "missed" };
      }
      // Every missed slot's job maps to the last slot that passed, which is claimed once: one run for all of them.
      slot = createCronSlots(schedule.cron, schedule.timezone).before(now + 1) ?? slot;
    }
    const executionId = slotExecutionId(schedule.id, slot);
    const claimed = await commands.set(
      scheduleSlotKey(schedule.id, slot),
      executionId,
      "PX",
      SLOT_CLAIM_TTL_MS,
      "NX",
    );
    if (claimed !== "OK") return { skipped: "fired" };
    const fired: FiredSlot = { slot, executionId, firedAt: now };
    await commands.hset(SCHEDULES_LAST_KEY, schedule.id, JSON.stringify(fired));
    if (slot !== slotOfJob(job)) {
      notice(
        `schedule "${schedule.id}": catching up on the slot of ${new Date(slot).toISOString()}, missed while no scheduler ran (catchUp: latest); execution ${executionId}`,
      );
    }
    try {
      await options.start(schedule, slot, executionId);
    } catch (error) {
      notice(
        `schedule "${schedule.id}": could not start blueprint "${schedule.blueprint}" for the slot of ${new Date(slot).toISOString()}: ${(error as Error).message}`,
      );
      throw error;
    }
    return { executionId };
  };
  const worker = new Worker<SlotJob>(SCHEDULES_QUEUE, run, {
    connection: blocking,
    prefix: QUEUE_PREFIX,
    concurrency: 4,
    autorun: true,
  });
  worker.on("error", () => {});

  return {
    mode: "redis",
    list: () => listSchedulesIn(commands, queue, options.schedules, clock.now(), createCronSlots),
    async stop() {
      await worker.close();
      await queue.close();
      commands.disconnect();
      blocking.disconnect();
    },
  };
}

/** The schedules as Redis knows them (next slot of their job scheduler, last slot fired), for `conductor schedules`. */
export async function listRedisSchedules(
  redis: string,
  schedules: readonly Schedule[],
): Promise<ScheduleState[]> {
  const commands = connectRedis(redis, `conductor-schedules-list-${process.pid}`);
  const queue = new Queue<SlotJob>(SCHEDULES_QUEUE, { connection: commands, prefix: QUEUE_PREFIX });
  queue.on("error", () => {});
  try {
    return await listSchedulesIn(commands, queue, schedules, Date.now(), await loadCronSlots());
  } finally {
    await queue.close();
    commands.disconnect();
  }
}

async function listSchedulesIn(
  commands: Redis,
  queue: Queue<SlotJob>,
  schedules: readonly Schedule[],
  now: number,
  createCronSlots: CronSlotsFactory,
): Promise<ScheduleState[]> {
  const last = await commands.hgetall(SCHEDULES_LAST_KEY);
  return Promise.all(
    schedules.map(async (schedule) => {
      const scheduler = await queue.getJobScheduler(schedule.id);
      const next = scheduler?.next ?? createCronSlots(schedule.cron, schedule.timezone).after(now);
      const fired = last[schedule.id];
      return {
        schedule,
        next,
        ...(fired === undefined ? {} : { last: JSON.parse(fired) as FiredSlot }),
      };
    }),
  );
}

/** The slot a job stands for: BullMQ names a scheduler's jobs `repeat:<scheduler id>:<slot in ms>`. */
function slotOfJob(job: Job<SlotJob>): number {
  const slot = Number(job.id?.slice(job.id.lastIndexOf(":") + 1));
  return Number.isFinite(slot) && slot > 0 ? slot : job.timestamp + (job.opts.delay ?? 0);
}
