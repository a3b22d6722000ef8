import { FEATURES, Log_Level } from "@conductor/sdk/protocol";
import { CheckFailure, type ConformanceCheck, expectEqual, expectThat, show } from "../conformance-check.js";
import {
  checkGrammar,
  expectFailure,
  failureOf,
  fromStep,
  given,
  json,
  jsonTextOf,
  step,
  terminal,
} from "../kit-messages.js";
import { describeEvents } from "../session-driver.js";

const add = (nodeId: string, a: unknown, b: unknown, config: unknown = {}) =>
  step(nodeId, "conformance.add", config, { a: given(json(a)), b: given(json(b)) });

/** Execute on the Session: steps, chains, failures, events (docs/protocol.md §3.1, §3.3). */
export const executeChecks: ConformanceCheck[] = [
  {
    id: "execute.one-step",
    title: "Execute of one step answers started then completed with its outputs",
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const id = session.execute({ executionId: "kit", steps: [add("sum", 2, 3, { offset: 10 })] });
      const events = await session.waitForEnd(id, patienceMs);
      checkGrammar(events, 1);
      const last = terminal(events, "completed");
      expectThat(last.kind.case === "completed", "started, then completed", () => describeEvents(events));
      expectEqual(JSON.parse(jsonTextOf(last.kind.value.outputs.sum, 'output "sum"')), 15, 'output "sum"');
    },
  },
  {
    id: "execute.chain",
    title: "Execute of several steps runs them in order, passing outputs along (StepOutput)",
    feature: FEATURES.steps,
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const id = session.execute({
        steps: [
          add("first", 2, 3, { offset: 10 }),
          step("second", "conformance.add", {}, { a: fromStep(0, "sum"), b: given(json(100)) }),
          step("third", "conformance.add", {}, { a: fromStep(1, "sum"), b: given(json(0.5)) }),
        ],
      });
      const events = await session.waitForEnd(id, patienceMs);
      checkGrammar(events, 3);
      const completed = events.filter((event) => event.kind.case === "completed");
      expectThat(completed.length === 3, "three completed events, one per step", () =>
        describeEvents(events),
      );
      const last = completed[2]!;
      if (last.kind.case !== "completed") return;
      expectEqual(
        JSON.parse(jsonTextOf(last.kind.value.outputs.sum, 'output "sum" of step 2')),
        115.5,
        "sum",
      );
    },
  },
  {
    id: "execute.chain-stops-at-failure",
    title: "when a step fails, the later steps of its invocation do not run and get no events",
    feature: FEATURES.steps,
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const id = session.execute({
        steps: [
          add("first", 1, 1),
          step("broken", "conformance.fail", { message: "stop here", retryable: false }),
          step("never", "conformance.add", {}, { a: fromStep(0, "sum"), b: given(json(1)) }),
        ],
      });
      const events = await session.waitForEnd(id, patienceMs);
      checkGrammar(events, 3);
      const kinds = events.map((event) => `${event.step}:${event.kind.case}`);
      expectEqual(kinds, ["0:started", "0:completed", "1:started", "1:failed"], "events");
    },
  },
  {
    id: "execute.fail",
    title: "conformance.fail fails with the configured message, type, retryable flag and details",
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      for (const [retryable, type] of [
        [true, "thing.broken"],
        [false, undefined],
      ] as const) {
        const config = { message: "the thing broke", retryable, ...(type === undefined ? {} : { type }) };
        const id = session.execute({ steps: [step("broken", "conformance.fail", config)] });
        const events = await session.waitForEnd(id, patienceMs);
        checkGrammar(events, 1);
        const failure = failureOf(terminal(events, "failed"), "failed", "a failed event");
        expectFailure(failure, {
          type: type ?? "conformance.failure",
          retryable,
          mentions: ["the thing broke"],
        });
        expectEqual(
          failure.details === undefined ? undefined : JSON.parse(jsonTextOf(failure.details, "details")),
          { code: 7 },
          "details",
        );
      }
    },
  },
  {
    id: "execute.throw",
    title: "an ordinary error becomes a retryable Failure typed by the language's error, with a stack",
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const id = session.execute({ steps: [step("oops", "conformance.throw", { message: "bad value 42" })] });
      const events = await session.waitForEnd(id, patienceMs);
      checkGrammar(events, 1);
      const failure = failureOf(terminal(events, "failed"), "failed", "a failed event");
      expectThat(
        failure.retryable &&
          failure.type !== "" &&
          !["node.failure", "conformance.failure"].includes(failure.type) &&
          failure.message.includes("bad value 42") &&
          failure.stack !== "",
        'a retryable Failure whose type names the language\'s error (ValueError, TypeError, error, …), whose message holds "bad value 42", with a stack',
        () =>
          `{type: ${show(failure.type)}, retryable: ${failure.retryable}, message: ${show(failure.message)}, stack: ${failure.stack === "" ? "empty" : "set"}}`,
      );
    },
  },
  {
    id: "execute.report",
    title: "conformance.report sends its log, progress and chunks, in order, before completed",
    async run({ shared, patienceMs }) {
      const fixture = await shared();
      const session = fixture.session();
      const id = session.execute({ steps: [step("talk", "conformance.report", {})] });
      const events = await session.waitForEnd(id, patienceMs);
      checkGrammar(events, 1);
      const seen = events
        .filter((event) => event.kind.case !== "started")
        .map((event) => {
          switch (event.kind.case) {
            case "log":
              return `log ${Log_Level[event.kind.value.level]} ${event.kind.value.message} ${new TextDecoder().decode(event.kind.value.fieldsJson).replaceAll(" ", "")}`;
            case "progress":
              return `progress ${event.kind.value.fraction} ${event.kind.value.message}`;
            case "chunk":
              return `chunk ${event.kind.value.port} ${jsonTextOf(event.kind.value.value, "a chunk")}`;
            case "completed":
              return `completed ${jsonTextOf(event.kind.value.outputs.done, 'output "done"')}`;
            default:
              return event.kind.case ?? "?";
          }
        });
      const language = fixture.handshake.runtime?.language ?? "?";
      expectEqual(
        seen,
        [
          `log INFO hello from ${language} {"n":1}`,
          "progress 0.5 half",
          "chunk items 0",
          "chunk items 1",
          "chunk items 2",
          "progress 1 done",
          "completed true",
        ],
        "after started:",
      );
    },
  },
  {
    id: "execute.input-invalid",
    title: "an input that does not match its schema fails the step, not retryable, naming node and port",
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const wrong = session.execute({ steps: [add("sum", "x", 2)] });
      const missing = session.execute({
        steps: [step("sum", "conformance.add", {}, { a: given(json(1)) })],
      });
      for (const [id, port] of [
        [wrong, "a"],
        [missing, "b"],
      ] as const) {
        const events = await session.waitForEnd(id, patienceMs);
        checkGrammar(events, 1);
        expectFailure(failureOf(terminal(events, "failed"), "failed", "a failed event"), {
          type: "input.invalid",
          retryable: false,
          mentions: ["sum", port],
        });
      }
    },
  },
  {
    id: "execute.config-invalid",
    title: "a config that does not match its schema fails the step, not retryable, naming node and field",
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const id = session.execute({ steps: [add("sum", 1, 2, { offset: "ten" })] });
      const events = await session.waitForEnd(id, patienceMs);
      checkGrammar(events, 1);
      expectFailure(failureOf(terminal(events, "failed"), "failed", "a failed event"), {
        type: "config.invalid",
        retryable: false,
        mentions: ["sum", "offset"],
      });
    },
  },
  {
    id: "execute.undeclared-input",
    title:
      "an input for a port the node type does not declare fails the step as input.invalid naming the port",
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const id = session.execute({
        steps: [
          step("sum", "conformance.add", {}, { a: given(json(1)), b: given(json(2)), extra: given(json(3)) }),
        ],
      });
      const events = await session.waitForEnd(id, patienceMs);
      checkGrammar(events, 1);
      expectFailure(failureOf(terminal(events, "failed"), "failed", "a failed event"), {
        type: "input.invalid",
        retryable: false,
        mentions: ["sum", "extra"],
      });
    },
  },
  {
    id: "execute.unknown-type",
    title: "an invocation naming a node type the runtime does not serve is rejected, and nothing runs",
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const id = session.execute({ steps: [step("mystery", "conformance.nope", {})] });
      const events = await session.waitForEnd(id, patienceMs);
      checkGrammar(events, 1);
      expectFailure(failureOf(terminal(events, "rejected"), "rejected", "one rejected event"), {
        type: "node-type.unknown",
        retryable: false,
        mentions: ["conformance.nope"],
      });
    },
  },
  {
    id: "execute.bad-step",
    title: "an invocation with no steps, or a StepOutput not naming an earlier step's output, is rejected",
    async run({ shared, patienceMs }) {
      const fixture = await shared();
      const session = fixture.session();
      const invocations: [string, bigint][] = [
        ["no steps", session.execute({ steps: [] })],
        [
          "a StepOutput naming its own step",
          session.execute({
            steps: [step("sum", "conformance.add", {}, { a: fromStep(0, "sum"), b: given(json(1)) })],
          }),
        ],
      ];
      if (fixture.has(FEATURES.steps)) {
        invocations.push([
          "a StepOutput naming a port the earlier step does not have",
          session.execute({
            steps: [
              add("first", 1, 1),
              step("second", "conformance.add", {}, { a: fromStep(0, "nope"), b: given(json(1)) }),
            ],
          }),
        ]);
      }
      for (const [what, id] of invocations) {
        const events = await session.waitForEnd(id, patienceMs);
        expectThat(
          events.length === 1 && events[0]!.kind.case === "rejected" && events[0]!.step === 0,
          `${what}: one rejected event on step 0`,
          () => describeEvents(events),
        );
        expectFailure(failureOf(events[0]!, "rejected", "a rejected event"), {
          type: "step.invalid",
          retryable: false,
        });
      }
    },
  },
  {
    id: "execute.stdout-noise",
    title: "a node writing to stdout cannot corrupt the protocol: stdout holds only the handshake line",
    async run({ shared, patienceMs }) {
      const fixture = await shared();
      const session = fixture.session();
      const id = session.execute({ steps: [step("noisy", "conformance.print", {})] });
      const events = await session.waitForEnd(id, patienceMs);
      checkGrammar(events, 1);
      const last = terminal(events, "completed");
      expectThat(last.kind.case === "completed", "completed", () => describeEvents(events));
      expectEqual(JSON.parse(jsonTextOf(last.kind.value.outputs.ok, 'output "ok"')), true, 'output "ok"');
      const after = fixture.program.stdout().slice(fixture.line.text.length + 1);
      expectThat(after === "", "nothing on stdout after the handshake line", () => show(after));
    },
  },
  {
    id: "execute.batch",
    title: "several commands in one SessionRequest all run",
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const ids = [session.nextId(), session.nextId(), session.nextId()];
      session.send(
        ids.map((invocationId, index) => ({
          kind: { case: "execute" as const, value: { invocationId, steps: [add(`sum${index}`, index, 1)] } },
        })),
      );
      for (const [index, id] of ids.entries()) {
        const events = await session.waitForEnd(id, patienceMs);
        checkGrammar(events, 1);
        const last = terminal(events, "completed");
        expectThat(last.kind.case === "completed", `invocation ${id} completed`, () =>
          describeEvents(events),
        );
        expectEqual(JSON.parse(jsonTextOf(last.kind.value.outputs.sum, "sum")), index + 1, "sum");
      }
    },
  },
  {
    id: "execute.duration",
    title: "completed.duration_us covers the node's run (at least the 50 ms conformance.sleep slept)",
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const id = session.execute({ steps: [step("nap", "conformance.sleep", { ms: 50 })] });
      const events = await session.waitForEnd(id, patienceMs);
      checkGrammar(events, 1);
      const last = terminal(events, "completed");
      if (last.kind.case !== "completed") throw new CheckFailure("completed", describeEvents(events));
      expectEqual(
        JSON.parse(jsonTextOf(last.kind.value.outputs.slept_ms, 'output "slept_ms"')),
        50,
        "slept_ms",
      );
      const durationUs = last.kind.value.durationUs;
      expectThat(durationUs >= 50_000n, "duration_us of at least 50000", () => String(durationUs));
    },
  },
];
