import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startLocalSchedules } from "./local-schedules.js";
import { type Schedule, slotExecutionId } from "./schedule-config.js";
import { ScheduleLedger } from "./schedule-ledger.js";
import type { ScheduleClock, ScheduleRunner } from "./schedule-runner.js";

/** A clock moved by hand: `advanceTo` runs the timers that come due, in order, at their time. */
function fakeClock(start: number) {
  let now = start;
  const timers: { at: number; callback: () => void; cancelled: boolean }[] = [];
  const clock: ScheduleClock = {
    now: () => now,
    setTimer(callback, ms) {
      const timer = { at: now + ms, callback, cancelled: false };
      timers.push(timer);
      return () => {
        timer.cancelled = true;
      };
    },
  };
  return {
    clock,
    advanceTo(time: number) {
      for (;;) {
        const due = timers
          .filter((timer) => !timer.cancelled && timer.at <= time)
          .sort((a, b) => a.at - b.at)[0];
        if (due === undefined) break;
        due.cancelled = true;
        now = due.at;
        due.callback();
      }
      now = time;
    },
  };
}

const T0 = Date.UTC(2026, 11, 2, 12, 0, 0);
const EVERY_10_S: Schedule = {
  id: "tick",
  blueprint: "report",
  cron: "*/10 * * * * *",
  timezone: "UTC",
  inputs: { n: 1 },
  catchUp: "latest",
};

describe("startLocalSchedules()", () => {
  let dir: string;
  let path: string;
  const open: { ledger: ScheduleLedger; runner: ScheduleRunner }[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "conductor-schedules-"));
    path = join(dir, "journal.db");
  });
  afterEach(async () => {
    for (const { ledger, runner } of open.splice(0)) {
      await runner.stop();
      ledger.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts a scheduler on the ledger at `path`, recording the slots it starts in `fired`. */
  async function scheduler(
    clock: ScheduleClock,
    fired: { slot: number; executionId: string }[],
    schedule: Schedule = EVERY_10_S,
    notices: string[] = [],
  ) {
    const ledger = await ScheduleLedger.open(path);
    const runner = await startLocalSchedules({
      schedules: [schedule],
      ledger,
      clock,
      onNotice: (message) => notices.push(message),
      start: async (_schedule, slot, executionId) => {
        fired.push({ slot, executionId });
      },
    });
    open.push({ ledger, runner });
    return { ledger, runner };
  }

  it("fires each slot once, in order, with an execution id naming the slot", async () => {
    const { clock, advanceTo } = fakeClock(T0 + 1_000);
    const fired: { slot: number; executionId: string }[] = [];
    await scheduler(clock, fired);
    advanceTo(T0 + 35_000);
    expect(fired).toEqual([
      { slot: T0 + 10_000, executionId: "tick-20261202T120010Z" },
      { slot: T0 + 20_000, executionId: "tick-20261202T120020Z" },
      { slot: T0 + 30_000, executionId: "tick-20261202T120030Z" },
    ]);
  });

  it("fires a slot once across a restart", async () => {
    const { clock, advanceTo } = fakeClock(T0 + 1_000);
    const fired: { slot: number; executionId: string }[] = [];
    const first = await scheduler(clock, fired);
    advanceTo(T0 + 10_500);
    expect(fired.map((entry) => entry.slot)).toEqual([T0 + 10_000]);
    await first.runner.stop();
    // The restarted scheduler sees the slot just passed as fired: nothing to catch up on.
    const notices: string[] = [];
    await scheduler(clock, fired, EVERY_10_S, notices);
    advanceTo(T0 + 21_000);
    expect(fired.map((entry) => entry.slot)).toEqual([T0 + 10_000, T0 + 20_000]);
    expect(notices).toEqual([]);
  });

  it("catches up on the last missed slot only, once (catchUp: latest)", async () => {
    const { clock, advanceTo } = fakeClock(T0 + 1_000);
    const fired: { slot: number; executionId: string }[] = [];
    const first = await scheduler(clock, fired);
    advanceTo(T0 + 10_500);
    await first.runner.stop();
    // Down for slots 20, 30 and 40.
    advanceTo(T0 + 45_000);
    const notices: string[] = [];
    const second = await scheduler(clock, fired, EVERY_10_S, notices);
    expect(fired.map((entry) => entry.slot)).toEqual([T0 + 10_000, T0 + 40_000]);
    expect(notices).toEqual([
      `schedule "tick": catching up on the slot of 2026-12-02T12:00:40.000Z, missed while no scheduler ran (catchUp: latest); execution ${slotExecutionId("tick", T0 + 40_000)}`,
    ]);
    await second.runner.stop();
    // A third start does not catch up on the same slot again.
    await scheduler(clock, fired);
    advanceTo(T0 + 50_000);
    expect(fired.map((entry) => entry.slot)).toEqual([T0 + 10_000, T0 + 40_000, T0 + 50_000]);
  });

  it("skips missed slots and says so (catchUp: none)", async () => {
    const schedule: Schedule = { ...EVERY_10_S, catchUp: "none" };
    const { clock, advanceTo } = fakeClock(T0 + 1_000);
    const fired: { slot: number; executionId: string }[] = [];
    const first = await scheduler(clock, fired, schedule);
    advanceTo(T0 + 10_500);
    await first.runner.stop();
    advanceTo(T0 + 45_000);
    const notices: string[] = [];
    await scheduler(clock, fired, schedule, notices);
    advanceTo(T0 + 50_000);
    expect(fired.map((entry) => entry.slot)).toEqual([T0 + 10_000, T0 + 50_000]);
    expect(notices).toEqual([
      'schedule "tick": skipping the slots missed while no scheduler ran, the last at 2026-12-02T12:00:40.000Z (catchUp: none)',
    ]);
  });

  it("does not catch up on the slots before a schedule was first run", async () => {
    const { clock, advanceTo } = fakeClock(T0 + 45_000);
    const fired: { slot: number; executionId: string }[] = [];
    await scheduler(clock, fired);
    advanceTo(T0 + 50_000);
    expect(fired.map((entry) => entry.slot)).toEqual([T0 + 50_000]);
  });

  it("fires each slot once when two schedulers share the journal", async () => {
    const { clock, advanceTo } = fakeClock(T0 + 1_000);
    const fired: { slot: number; executionId: string }[] = [];
    await scheduler(clock, fired);
    await scheduler(clock, fired);
    advanceTo(T0 + 35_000);
    expect(fired.map((entry) => entry.slot)).toEqual([T0 + 10_000, T0 + 20_000, T0 + 30_000]);
  });

  it("reads the time zone: 02:00 in Paris is 01:00 UTC in winter", async () => {
    const schedule: Schedule = { ...EVERY_10_S, cron: "0 2 * * *", timezone: "Europe/Paris" };
    const { clock, advanceTo } = fakeClock(T0);
    const fired: { slot: number; executionId: string }[] = [];
    const { runner } = await scheduler(clock, fired, schedule);
    expect((await runner.list())[0]?.next).toBe(Date.UTC(2026, 11, 3, 1, 0, 0));
    advanceTo(Date.UTC(2026, 11, 4, 0, 0, 0));
    expect(fired.map((entry) => entry.executionId)).toEqual(["tick-20261203T010000Z"]);
    expect((await runner.list())[0]?.last?.executionId).toBe("tick-20261203T010000Z");
  });

  it("lists the last fired slot for conductor schedules without writing", async () => {
    const { clock, advanceTo } = fakeClock(T0 + 1_000);
    const fired: { slot: number; executionId: string }[] = [];
    await scheduler(clock, fired);
    advanceTo(T0 + 15_000);
    const last = await ScheduleLedger.readLast(path, ["tick", "other"]);
    expect([...last.entries()]).toEqual([
      ["tick", { slot: T0 + 10_000, executionId: "tick-20261202T120010Z", firedAt: T0 + 10_000 }],
    ]);
    expect((await ScheduleLedger.readLast(join(dir, "missing.db"), ["tick"])).size).toBe(0);
  });
});
