import { FEATURES } from "@conductor/sdk/protocol";
import { CheckFailure, type ConformanceCheck, expectEqual, expectThat, show } from "../conformance-check.js";
import { checkGrammar, expectFailure, failureOf, given, json, step, terminal } from "../kit-messages.js";
import { describeEvents, type SessionDriver } from "../session-driver.js";

const REASON = "the kit cancels";
const nap = (ms = 60_000, timeoutMs = 0) => step("nap", "conformance.sleep", { ms }, {}, timeoutMs);
const sum = () => step("sum", "conformance.add", {}, { a: given(json(1)), b: given(json(2)) });

/** Cancel before, during and after a step; timeouts; closing the session (docs/protocol.md §3.1). */
export const cancelChecks: ConformanceCheck[] = [
  {
    id: "cancel.during-step",
    title: "a Cancel during a step fires its cancellation at once: the step ends cancelled with the reason",
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const id = session.execute({ steps: [nap()] });
      await waitStarted(session, id, 0, patienceMs);
      session.cancel(id, REASON);
      const events = await session.waitForEnd(id, patienceMs);
      checkGrammar(events, 1);
      const last = terminal(events, "cancelled");
      expectThat(
        last.kind.case === "cancelled" && last.kind.value.reason === REASON,
        `started, then cancelled with the reason ${show(REASON)}`,
        () => describeEvents(events),
      );
    },
  },
  {
    id: "cancel.before-step",
    title:
      "a Cancel in the same message as its Execute ends the invocation cancelled; the node does not complete",
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const id = session.nextId();
      session.send([
        { kind: { case: "execute", value: { invocationId: id, steps: [nap()] } } },
        { kind: { case: "cancel", value: { invocationId: id, reason: REASON, graceMs: 5_000 } } },
      ]);
      const events = await session.waitForEnd(id, patienceMs);
      checkGrammar(events, 1);
      expectThat(
        terminal(events, "cancelled").kind.case === "cancelled",
        "cancelled (started is optional)",
        () => describeEvents(events),
      );
    },
  },
  {
    id: "cancel.after-step",
    title: "a Cancel of a finished invocation is ignored: no event, and the session goes on",
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const id = session.execute({ steps: [sum()] });
      const before = await session.waitForEnd(id, patienceMs);
      const count = before.length;
      session.cancel(id, REASON);
      await expectSessionGoesOn(session, patienceMs);
      expectThat(session.events(id).length === count, `no event for invocation ${id} after its end`, () =>
        describeEvents(session.events(id).slice(count)),
      );
    },
  },
  {
    id: "cancel.unknown",
    title: "a Cancel of an invocation id never used is ignored: no event, and the session goes on",
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const unknown = session.nextId() + 1000n;
      session.cancel(unknown, REASON);
      await expectSessionGoesOn(session, patienceMs);
      expectThat(session.events(unknown).length === 0, `no event for invocation ${unknown}`, () =>
        describeEvents(session.events(unknown)),
      );
    },
  },
  {
    id: "cancel.chain",
    title: "a Cancel during step 0 of a chain ends step 0 cancelled; the later steps get no events",
    feature: FEATURES.steps,
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const id = session.execute({ steps: [nap(), sum()] });
      await waitStarted(session, id, 0, patienceMs);
      session.cancel(id, REASON);
      await session.waitForEnd(id, patienceMs);
      await expectSessionGoesOn(session, patienceMs);
      const events = session.events(id);
      checkGrammar(events, 2);
      expectEqual(
        events.map((event) => `${event.step}:${event.kind.case}`),
        ["0:started", "0:cancelled"],
        "events",
      );
    },
  },
  {
    id: "cancel.session-closed",
    title:
      "when the host closes its side of the session, the runtime cancels its invocations and ends the stream",
    async run({ shared, patienceMs }) {
      const session = (await shared()).openSession();
      const id = session.execute({ steps: [nap()] });
      await waitStarted(session, id, 0, patienceMs);
      session.halfClose();
      const end = await Promise.race([
        session.done,
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), patienceMs).unref()),
      ]);
      expectThat(
        end !== undefined,
        `the stream to end within ${patienceMs} ms (the 60 s sleep cancelled, not awaited)`,
        () => `it was still open; events: ${describeEvents(session.events(id))}`,
      );
      const completed = session.events(id).some((event) => event.kind.case === "completed");
      expectThat(!completed, "no completed event for the cancelled sleep", () =>
        describeEvents(session.events(id)),
      );
    },
  },
  {
    id: "timeout.step",
    title: "a step over its timeout_ms fails as a retryable timeout naming node, type and budget",
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const id = session.execute({ steps: [nap(60_000, 200)] });
      const events = await session.waitForEnd(id, patienceMs);
      checkGrammar(events, 1);
      const failure = failureOf(terminal(events, "failed"), "failed", "a failed event");
      expectFailure(failure, {
        type: "timeout",
        retryable: true,
        mentions: ['node "nap" (conformance.sleep) timed out after 200 ms'],
      });
      if (!events.some((event) => event.kind.case === "started")) {
        throw new CheckFailure("started before the timeout", describeEvents(events));
      }
    },
  },
];

async function waitStarted(
  session: SessionDriver,
  id: bigint,
  index: number,
  patienceMs: number,
): Promise<void> {
  await session.waitUntil(
    () => session.events(id).some((event) => event.kind.case === "started" && event.step === index),
    `step ${index} of invocation ${id} to start`,
    patienceMs,
    () => describeEvents(session.events(id)),
  );
}

/** Runs one more invocation to its end: proof that the session still works, and a point after which to look. */
async function expectSessionGoesOn(session: SessionDriver, patienceMs: number): Promise<void> {
  const id = session.execute({ steps: [sum()] });
  const events = await session.waitForEnd(id, patienceMs);
  expectThat(events.at(-1)?.kind.case === "completed", "the next invocation on the session completed", () =>
    describeEvents(events),
  );
}
