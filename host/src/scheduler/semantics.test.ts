/**
 * Orchestration semantics through the whole host, with in-process nodes: conditions and skipping, joins, retries,
 * timeouts, heartbeats, error policies, map, caching and compensation. test/conformance/semantics.test.ts runs
 * the same semantics against every runtime.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as mathNodes from "../../../test/fixtures/nodes/math-nodes.js";
import * as policyNodes from "../../../test/fixtures/nodes/policy-nodes.js";
import type { BlueprintDocument } from "../blueprint/blueprint-schema.js";
import { type Conductor, createConductor } from "../conductor.js";
import type { ExecutionEvent } from "./execution-events.js";

const nodeDefinitions = [...Object.values(mathNodes), ...Object.values(policyNodes)].filter(
  (value) => typeof value === "object" && value !== null && "kind" in value,
) as never[];

function blueprint(
  nodes: BlueprintDocument["nodes"],
  extra: Partial<BlueprintDocument> = {},
): BlueprintDocument {
  return { conductor: "blueprint/v1", nodes, ...extra };
}

describe("orchestration semantics", () => {
  let conductor: Conductor;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "semantics-"));
    conductor = await createConductor({
      nodes: nodeDefinitions,
      project: { dir, blueprints: [], nodes: [], runtimes: {} },
    });
  });

  afterAll(async () => {
    await conductor.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function run(document: BlueprintDocument, inputs: Record<string, unknown> = {}) {
    const events: ExecutionEvent[] = [];
    const result = await conductor.run(document, inputs, { onEvent: (event) => events.push(event) });
    return { result, events };
  }

  describe("conditional execution", () => {
    const branching = blueprint(
      {
        check: { type: "core.if", config: { condition: "value > 10" }, inputs: { value: "inputs.amount" } },
        big: { type: "test.add-one", inputs: { x: "check.true" } },
        bigger: { type: "test.add-one", inputs: { x: "big.x" } },
        small: { type: "test.describe", inputs: { value: "check.false" } },
        join: { type: "test.describe", inputs: { value: "bigger.x" } },
      },
      {
        inputs: { amount: { schema: { type: "number" } } },
        outputs: { big: "bigger.x", small: "small.text" },
      },
    );

    it("runs the taken branch and skips the other, propagating the skip", async () => {
      const { result, events } = await run(branching, { amount: 50 });
      expect(result.status).toBe("completed");
      expect(result.outputs).toEqual({ big: 52 });
      expect(result.nodes.small!.status).toBe("skipped");
      const skipped = events.filter((e) => e.type === "node.skipped");
      expect(skipped).toEqual([
        expect.objectContaining({
          nodeId: "small",
          reason: "none of the nodes it reads from produced a value",
        }),
      ]);

      const other = await run(branching, { amount: 5 });
      expect(other.result.outputs).toEqual({ small: "number:5" });
      expect(["big", "bigger", "join"].map((id) => other.result.nodes[id]!.status)).toEqual([
        "skipped",
        "skipped",
        "skipped",
      ]);
    });

    it("skips a node whose `when` condition is false, and a join receives what ran", async () => {
      const { result } = await run(
        blueprint({
          a: { type: "test.add-one", inputs: { x: { value: 1 } } },
          onlyIfBig: { type: "test.add-one", when: "x > 100", inputs: { x: "a.x" } },
          always: { type: "test.add-one", when: "x < 100", inputs: { x: "a.x" } },
          join: { type: "test.sum", inputs: { a: "always.x", b: { value: 0 } } },
          both: { type: "test.describe", inputs: { value: "onlyIfBig.x" } },
        }),
      );
      expect(result.nodes.onlyIfBig!.status).toBe("skipped");
      expect(result.nodes.always).toMatchObject({ status: "completed", outputs: { x: 3 } });
      expect(result.nodes.join).toMatchObject({ status: "completed", outputs: { sum: 3 } });
      expect(result.nodes.both!.status).toBe("skipped");
    });

    it("rejects a condition that is not valid JSONata before running", async () => {
      const { diagnostics } = await conductor.validate(
        blueprint({ a: { type: "test.add-one", when: "x >", inputs: { x: { value: 1 } } } }),
      );
      expect(diagnostics.map((d) => d.path)).toEqual(["nodes.a.when"]);
    });
  });

  describe("retries", () => {
    it("retries a retryable failure with backoff until it succeeds", async () => {
      const { result, events } = await run(
        blueprint(
          {
            flaky: {
              type: "test.flaky",
              config: { failTimes: 2 },
              retry: { maxAttempts: 4, initialDelayMs: 20, jitter: false },
            },
          },
          { outputs: { attempt: "flaky.attempt" } },
        ),
      );
      expect(result.outputs.attempt).toBe(3);
      const failures = events.filter((e) => e.type === "node.failed");
      expect(failures.map((e) => e.type === "node.failed" && [e.attempt, e.willRetry, e.retryInMs])).toEqual([
        [1, true, 20],
        [2, true, 40],
      ]);
    });

    it("gives up after maxAttempts and fails the execution with the last failure", async () => {
      const { result } = await run(
        blueprint({
          flaky: {
            type: "test.flaky",
            config: { failTimes: 5 },
            retry: { maxAttempts: 2, initialDelayMs: 5 },
          },
        }),
      );
      expect(result.failure).toMatchObject({ nodeId: "flaky", message: "attempt 2 failed" });
      expect(result.nodes.flaky!.attempt).toBe(2);
    });

    it("never retries a non-retryable failure", async () => {
      const { result } = await run(
        blueprint({
          flaky: {
            type: "test.flaky",
            config: { failTimes: 5, retryable: false },
            retry: { maxAttempts: 5 },
          },
        }),
      );
      expect(result.nodes.flaky!.attempt).toBe(1);
    });

    it("schedules the retry no sooner than the delay a failure suggests", async () => {
      const { result, events } = await run(
        blueprint({
          flaky: {
            type: "test.flaky",
            config: { failTimes: 1, retryDelayMs: 200 },
            retry: { maxAttempts: 2, initialDelayMs: 1 },
          },
        }),
      );
      expect(result.status).toBe("completed");
      const failed = events.find((event) => event.type === "node.failed");
      expect(failed).toMatchObject({ willRetry: true, retryInMs: 200 });
      expect(events.filter((event) => event.type === "node.started").map((event) => event.seq)).toEqual([
        expect.any(Number),
        expect.toSatisfy((seq: number) => seq > failed!.seq),
      ]);
    });
  });

  describe("time limits", () => {
    it("fails an attempt that exceeds its timeout, then retries it", async () => {
      const { result, events } = await run(
        blueprint({
          slow: {
            type: "test.worker",
            config: { ms: 5_000 },
            timeoutMs: 50,
            retry: { maxAttempts: 2, initialDelayMs: 1 },
          },
        }),
      );
      expect(result.failure).toMatchObject({ nodeId: "slow", type: "timeout", retryable: true });
      expect(events.filter((e) => e.type === "node.started")).toHaveLength(2);
    });

    it("fails a node that stops sending heartbeats, and keeps one that sends them", async () => {
      const silent = await run(
        blueprint({ quiet: { type: "test.worker", config: { ms: 5_000 }, heartbeatTimeoutMs: 100 } }),
      );
      expect(silent.result.failure).toMatchObject({
        nodeId: "quiet",
        type: "heartbeat.timeout",
        retryable: true,
      });
      expect(silent.result.failure!.message).toBe(
        'node "quiet" (test.worker) sent no heartbeat, progress or log for 100 ms',
      );
      const alive = await run(
        blueprint({
          chatty: { type: "test.worker", config: { ms: 400, heartbeatEveryMs: 30 }, heartbeatTimeoutMs: 100 },
        }),
      );
      expect(alive.result.status).toBe("completed");
    });
  });

  describe("error policies", () => {
    it("continue: the failed node's outputs are absent and the rest goes on", async () => {
      const { result } = await run(
        blueprint({
          broken: { type: "test.fail", onError: "continue" },
          after: { type: "test.describe", inputs: { value: "broken.value" } },
          independent: { type: "test.add-one", inputs: { x: { value: 1 } } },
        }),
      );
      expect(result.status).toBe("completed");
      expect(result.handledFailures).toEqual([
        expect.objectContaining({ nodeId: "broken", message: "planned failure" }),
      ]);
      expect(result.nodes.after!.status).toBe("skipped");
      expect(result.nodes.independent!.status).toBe("completed");
    });

    it("route: the failure goes to the error port, handled by another node", async () => {
      const { result } = await run(
        blueprint(
          {
            broken: { type: "test.fail", config: { message: "disk full" }, onError: "route" },
            normal: { type: "test.describe", inputs: { value: "broken.value" } },
            handler: { type: "test.describe", inputs: { value: "broken.error" } },
          },
          { outputs: { handled: "handler.text" } },
        ),
      );
      expect(result.status).toBe("completed");
      expect(result.outputs.handled).toBe(
        'object:{"message":"disk full","type":"test.planned","retryable":false}',
      );
      expect(result.nodes.normal!.status).toBe("skipped");
    });

    it("rejects reading the error port of a node that does not route its failures", async () => {
      const { diagnostics } = await conductor.validate(
        blueprint({
          broken: { type: "test.fail" },
          handler: { type: "test.describe", inputs: { value: "broken.error" } },
        }),
      );
      expect(diagnostics[0]).toMatchObject({
        path: "nodes.handler.inputs.value",
        suggestion: 'set onError: route on node "broken" to read its failures from "broken.error"',
      });
    });
  });

  describe("map over items", () => {
    it("runs a node per element with bounded concurrency, results in input order", async () => {
      policyNodes.resetPeak();
      const { result, events } = await run(
        blueprint(
          {
            numbers: { type: "test.list", config: { count: 12 } },
            squares: {
              type: "test.square",
              config: { delayMs: 20 },
              map: { over: "x", concurrency: 3 },
              inputs: { x: "numbers.items" },
            },
          },
          { outputs: { squares: "squares.y" } },
        ),
      );
      expect(result.outputs.squares).toEqual([1, 4, 9, 16, 25, 36, 49, 64, 81, 100, 121, 144]);
      expect(policyNodes.peakInFlight).toBe(3);
      expect(events.filter((e) => e.type === "node.progress").at(-1)).toMatchObject({
        fraction: 1,
        message: "12 of 12 items",
      });
    });

    it("fails the node when an element fails and the policy is fail", async () => {
      const { result } = await run(
        blueprint({
          numbers: { type: "test.list", config: { count: 5 } },
          squares: {
            type: "test.square",
            config: { failOn: 3 },
            map: { over: "x" },
            inputs: { x: "numbers.items" },
          },
        }),
      );
      expect(result.failure).toMatchObject({
        nodeId: "squares",
        message: "item 2 of 5 failed: cannot square 3",
      });
    });

    it("keeps going past failed elements with onError continue or route", async () => {
      const { result } = await run(
        blueprint(
          {
            numbers: { type: "test.list", config: { count: 4 } },
            squares: {
              type: "test.square",
              config: { failOn: 2 },
              map: { over: "x" },
              onError: "route",
              inputs: { x: "numbers.items" },
            },
          },
          { outputs: { squares: "squares.y", errors: "squares.error" } },
        ),
      );
      expect(result.outputs.squares).toEqual([1, null, 9, 16]);
      expect(result.outputs.errors).toEqual([
        { index: 1, failure: expect.objectContaining({ message: "cannot square 2" }) },
      ]);
    });

    it("fails an element that stops sending heartbeats, while the others go on", async () => {
      const { result } = await run(
        blueprint(
          {
            work: {
              type: "test.item-worker",
              map: { over: "item", concurrency: 3 },
              heartbeatTimeoutMs: 400,
              onError: "route",
              inputs: {
                item: { value: [{ ms: 600 }, { ms: 60_000, silent: true }, { ms: 600 }] },
              },
            },
          },
          { outputs: { done: "work.done", errors: "work.error" } },
        ),
      );
      expect(result.status).toBe("completed");
      expect(result.outputs.done).toEqual([600, null, 600]);
      expect(result.outputs.errors).toEqual([
        {
          index: 1,
          failure: {
            message: 'item 1 of node "work" (test.item-worker) sent no heartbeat, progress or log for 400 ms',
            type: "heartbeat.timeout",
            retryable: true,
          },
        },
      ]);
    });

    it("maps over an empty list to empty outputs", async () => {
      const { result } = await run(
        blueprint(
          {
            numbers: { type: "test.list", config: { count: 0 } },
            squares: { type: "test.square", map: { over: "x" }, inputs: { x: "numbers.items" } },
          },
          { outputs: { squares: "squares.y" } },
        ),
      );
      expect(result.outputs.squares).toEqual([]);
    });
  });

  describe("result caching", () => {
    it("reuses a deterministic node's result for the same inputs, visibly, unless told not to", async () => {
      const document = blueprint(
        { sq: { type: "test.square", cache: true, inputs: { x: "inputs.x" } } },
        { inputs: { x: {} }, outputs: { y: "sq.y" } },
      );
      const first = await run(document, { x: 7 });
      expect(first.result.nodes.sq!.status).toBe("completed");
      const second = await run(document, { x: 7 });
      expect(second.result.outputs.y).toBe(49);
      expect(second.result.nodes.sq!.status).toBe("cached");
      expect(second.events.find((e) => e.type === "node.completed")).toMatchObject({ cached: true });
      const other = await run(document, { x: 8 });
      expect(other.result.nodes.sq!.status).toBe("completed");
      const bypass = await conductor.run(document, { x: 7 }, { noCache: true });
      expect(bypass.nodes.sq!.status).toBe("completed");
    });

    it("refuses to cache a node type that is not deterministic", async () => {
      const { diagnostics } = await conductor.validate(
        blueprint({ w: { type: "test.worker", config: { ms: 1 }, cache: true } }),
      );
      expect(diagnostics.map((d) => d.path)).toEqual(["nodes.w.cache"]);
    });
  });

  describe("compensation", () => {
    it("runs compensations of completed nodes in reverse completion order when the execution fails", async () => {
      const file = join(dir, "saga.log");
      const { result } = await run(
        blueprint({
          book: {
            type: "test.record",
            config: { file, label: "book" },
            compensate: "unbook",
            inputs: { value: { value: 1 } },
          },
          charge: {
            type: "test.record",
            config: { file, label: "charge" },
            compensate: "refund",
            inputs: { value: "book.value" },
          },
          ship: { type: "test.fail", config: { message: "no stock" }, inputs: { value: "charge.value" } },
          unbook: {
            type: "test.record",
            role: "compensation",
            config: { file, label: "undo book" },
            inputs: { value: "book.value" },
          },
          refund: {
            type: "test.record",
            role: "compensation",
            config: { file, label: "undo charge" },
            inputs: { value: "charge.value" },
          },
        }),
      );
      expect(result.status).toBe("failed");
      expect(result.compensations).toEqual([
        { nodeId: "refund", compensates: "charge", status: "completed" },
        { nodeId: "unbook", compensates: "book", status: "completed" },
      ]);
      expect((await readFile(file, "utf8")).trim().split("\n")).toEqual([
        "book book",
        "charge charge",
        "refund undo charge",
        "unbook undo book",
      ]);
    });

    it("does not run compensations when the execution completes", async () => {
      const file = join(dir, "ok.log");
      const { result } = await run(
        blueprint({
          book: { type: "test.record", config: { file, label: "book" }, compensate: "unbook" },
          unbook: { type: "test.record", role: "compensation", config: { file, label: "undo" } },
        }),
      );
      expect(result.compensations).toEqual([]);
      expect((await readFile(file, "utf8")).trim()).toBe("book book");
    });
  });
});
