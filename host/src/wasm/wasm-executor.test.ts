import { describe, expect, it } from "vitest";
import type { WasmModulePlan } from "./wasm-call.js";
import {
  createWorkerPoolExecutor,
  type PoolWorker,
  type WorkerAnswer,
  type WorkerRequest,
} from "./wasm-executor.js";

const plan = { name: "wasm/fake.wasm" } as WasmModulePlan;
const call = { exportName: "run", config: {}, inputs: {} };

/** A pool of fake workers: each answers a call when the test says so, and records what happened to it. */
function fakePool() {
  const events: string[] = [];
  const workers: { answer(id: number): void; requests: WorkerRequest[] }[] = [];
  const executor = createWorkerPoolExecutor({
    size: 1,
    spawn(onAnswer: (answer: WorkerAnswer) => void): PoolWorker {
      const index = workers.length;
      const requests: WorkerRequest[] = [];
      workers.push({
        requests,
        answer: (id) => onAnswer({ id, result: { ok: true, outputs: { id }, logs: [] } }),
      });
      events.push(`spawn ${index}`);
      return {
        post: (request) => requests.push(request),
        terminate: () => events.push(`terminate ${index}`),
      };
    },
  });
  return { executor, events, workers };
}

const lastCallId = (requests: WorkerRequest[]) => {
  const last = requests.findLast((request) => request.kind === "call");
  return last?.kind === "call" ? last.id : -1;
};

describe("createWorkerPoolExecutor()", () => {
  it("stops a call past its time limit, also after calls with a longer limit, and serves the next call", async () => {
    const { executor, events, workers } = fakePool();
    // Calls with a long limit answered in time: their worker is kept.
    for (let i = 0; i < 3; i++) {
      const handle = executor.call(plan, call, 60_000);
      workers[0]!.answer(lastCallId(workers[0]!.requests));
      expect((await handle.result).ok).toBe(true);
    }
    // A call with a short limit that never answers is stopped at its own limit, not the earlier calls'.
    const stuck = await executor.call(plan, call, 20).result;
    expect(stuck).toMatchObject({
      ok: false,
      fault: {
        kind: "timeout",
        message:
          'wasm module "wasm/fake.wasm" ran past its time limit of 20 ms and was stopped (its worker terminated)',
      },
    });
    // The next call gets a fresh worker.
    const next = executor.call(plan, call, 60_000);
    workers[1]!.answer(lastCallId(workers[1]!.requests));
    expect(await next.result).toMatchObject({ ok: true });
    expect(events).toEqual(["spawn 0", "terminate 0", "spawn 1"]);
    await executor.close();
    expect(events.at(-1)).toBe("terminate 1");
  });

  it("does not stop a call that answers before its limit, though the watchdog set for an earlier call fires during it", async () => {
    const { executor, events, workers } = fakePool();
    const first = executor.call(plan, call, 30);
    workers[0]!.answer(lastCallId(workers[0]!.requests));
    await first.result;
    // The watchdog armed for the first call fires during the second, finds it within its limit and looks again.
    const second = executor.call(plan, call, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 60));
    workers[0]!.answer(lastCallId(workers[0]!.requests));
    expect(await second.result).toMatchObject({ ok: true });
    expect(events).toEqual(["spawn 0"]);
    await executor.close();
  });
});
