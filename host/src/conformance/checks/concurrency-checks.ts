import { CheckFailure, type ConformanceCheck, expectThat } from "../conformance-check.js";
import { checkGrammar, expectFailure, failureOf, given, json, step, terminal } from "../kit-messages.js";
import { describeEvents } from "../session-driver.js";

/** The most invocations the kit starts at once to reach a runtime's max_concurrency. */
const MOST_SATURATED = 1024;

/** Invocations at once, up to and beyond max_concurrency, and invocation ids (docs/protocol.md §1.3, §3.1). */
export const concurrencyChecks: ConformanceCheck[] = [
  {
    id: "concurrency.max",
    title: "max_concurrency invocations run at once; one more is rejected as a retryable runtime.busy",
    async run({ shared, patienceMs }) {
      const fixture = await shared();
      const most = fixture.handshake.maxConcurrency;
      expectThat(
        most <= MOST_SATURATED,
        `max_concurrency of at most ${MOST_SATURATED}, the most invocations the kit starts at once (give the runtime a lower limit)`,
        () => String(most),
      );
      const session = fixture.session();
      const ids = Array.from({ length: most }, () => session.nextId());
      session.send(
        ids.map((invocationId) => ({
          kind: {
            case: "execute" as const,
            value: { invocationId, steps: [step("nap", "conformance.sleep", { ms: 60_000 })] },
          },
        })),
      );
      const started = () =>
        ids.filter((id) => session.events(id).some((event) => event.kind.case === "started"));
      try {
        await session.waitUntil(
          () => started().length === most,
          `all ${most} invocations (max_concurrency) started before any ended`,
          patienceMs * 2,
          () =>
            `${started().length} started; ${describeEvents(session.all.filter((event) => event.kind.case !== "started"))}`,
        );
        const ended = ids.filter((id) => session.ended(id));
        expectThat(ended.length === 0, "no sleeping invocation ended before it was cancelled", () =>
          describeEvents(ended.flatMap((id) => session.events(id))),
        );
        const extra = session.execute({
          steps: [step("one-more", "conformance.add", {}, { a: given(json(1)), b: given(json(1)) })],
        });
        const events = await session.waitForEnd(extra, patienceMs);
        expectThat(events.length === 1, "one rejected event for the invocation beyond max_concurrency", () =>
          describeEvents(events),
        );
        expectFailure(failureOf(events[0]!, "rejected", "a rejected event"), {
          type: "runtime.busy",
          retryable: true,
        });
      } finally {
        session.send(
          ids.map((invocationId) => ({
            kind: {
              case: "cancel" as const,
              value: { invocationId, reason: "the kit is done", graceMs: 5_000 },
            },
          })),
        );
      }
      await session.waitUntil(
        () => ids.every((id) => session.ended(id)),
        `all ${most} sleeping invocations cancelled`,
        patienceMs * 2,
      );
      const after = session.execute({
        steps: [step("after", "conformance.add", {}, { a: given(json(1)), b: given(json(1)) })],
      });
      const events = await session.waitForEnd(after, patienceMs);
      expectThat(
        events.at(-1)?.kind.case === "completed",
        "a new invocation to run once the others ended",
        () => describeEvents(events),
      );
    },
  },
  {
    id: "concurrency.duplicate-id",
    title:
      "an Execute reusing the id of a running invocation is rejected (step.invalid); the running one goes on",
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const id = session.execute({ steps: [step("nap", "conformance.sleep", { ms: 60_000 })] });
      await session.waitUntil(
        () => session.events(id).some((event) => event.kind.case === "started"),
        "the first invocation started",
        patienceMs,
      );
      session.execute(
        { steps: [step("again", "conformance.add", {}, { a: given(json(1)), b: given(json(1)) })] },
        id,
      );
      await session.waitUntil(
        () => session.events(id).some((event) => event.kind.case === "rejected"),
        `a rejected event for the second invocation ${id}`,
        patienceMs,
        () => describeEvents(session.events(id)),
      );
      const rejected = session.events(id).find((event) => event.kind.case === "rejected")!;
      expectFailure(failureOf(rejected, "rejected", "a rejected event"), {
        type: "step.invalid",
        retryable: false,
        mentions: [String(id)],
      });
      session.cancel(id, "the kit is done");
      await session.waitUntil(
        () => session.events(id).some((event) => event.kind.case === "cancelled"),
        "the first invocation still running, and cancelled by a Cancel",
        patienceMs,
        () => describeEvents(session.events(id)),
      );
      const others = session.events(id).filter((event) => event.kind.case !== "rejected");
      checkGrammar(others, 1);
      const last = terminal(others, "cancelled");
      if (last.kind.case !== "cancelled") throw new CheckFailure("cancelled", describeEvents(others));
    },
  },
];
