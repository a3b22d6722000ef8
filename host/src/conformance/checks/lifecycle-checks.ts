import { create } from "@bufbuild/protobuf";
import { DrainRequestSchema, ShutdownRequestSchema } from "@conductor/sdk/protocol";
import { CheckFailure, type ConformanceCheck, expectEqual, expectThat } from "../conformance-check.js";
import { expectFailure, failureOf, given, json, step } from "../kit-messages.js";
import { describeProgramExit, type ProgramExit, type ProgramUnderTest } from "../program-under-test.js";
import { describeError, readHandshakeLine, stderrNote } from "../runtime-fixture.js";
import { describeEvents } from "../session-driver.js";

/** Drain, Shutdown, stdin, signals and crashes: the end of a runtime's life (docs/protocol.md §1.5). */
export const lifecycleChecks: ConformanceCheck[] = [
  {
    id: "lifecycle.drain",
    title:
      "Drain waits for running invocations up to its grace, answers how many are unfinished, then refuses Execute",
    async run({ connect, patienceMs }) {
      const { client, openSession } = await connect();
      const session = openSession();
      const long = session.execute({ steps: [step("long", "conformance.sleep", { ms: 60_000 })] });
      const short = session.execute({ steps: [step("short", "conformance.sleep", { ms: 100 })] });
      await session.waitUntil(
        () => [long, short].every((id) => session.events(id).some((event) => event.kind.case === "started")),
        "both sleeps started",
        patienceMs,
      );
      const drained = await client.call("drain", create(DrainRequestSchema, { graceMs: 5_000 }), {
        timeoutMs: patienceMs + 5_000,
      });
      expectEqual(
        drained.unfinished,
        1,
        "Drain(grace 5000 ms) with a 100 ms and a 60 s sleep running to answer unfinished:",
      );
      await session.waitForEnd(short, patienceMs);
      expectThat(
        session.events(short).at(-1)?.kind.case === "completed",
        "the 100 ms sleep completed during the drain",
        () => describeEvents(session.events(short)),
      );
      const refused = session.execute({
        steps: [step("late", "conformance.add", {}, { a: given(json(1)), b: given(json(1)) })],
      });
      const events = await session.waitForEnd(refused, patienceMs);
      expectThat(events.length === 1, "one rejected event for an Execute after Drain", () =>
        describeEvents(events),
      );
      expectFailure(failureOf(events[0]!, "rejected", "a rejected event"), {
        type: "runtime.busy",
        retryable: true,
      });
      session.cancel(long, "the kit is done");
      const longEvents = await session.waitForEnd(long, patienceMs);
      expectThat(
        longEvents.at(-1)?.kind.case === "cancelled",
        "a Cancel still reaches an invocation running during a drain",
        () => describeEvents(longEvents),
      );
    },
  },
  {
    id: "lifecycle.shutdown",
    title: "Shutdown is answered, then the process exits with status 0",
    async run({ connect, patienceMs }) {
      const { client, program } = await connect();
      const drained = await client.call("drain", create(DrainRequestSchema, { graceMs: 5_000 }));
      expectEqual(drained.unfinished, 0, "Drain with nothing running to answer unfinished:");
      try {
        await client.call("shutdown", create(ShutdownRequestSchema, {}));
      } catch (error) {
        throw new CheckFailure("an answer to Shutdown before the process exits", describeError(error));
      }
      await expectExit(program, patienceMs, "after Shutdown", (exit) => exit.code === 0, "status 0");
    },
  },
  {
    id: "lifecycle.stdin-eof",
    title: "when its stdin reaches end-of-file (the host is gone), it exits with status 0",
    async run({ launch, patienceMs }) {
      const program = await launch();
      await readHandshakeLine(program, 20_000);
      program.closeStdin();
      await expectExit(program, patienceMs, "after stdin closed", (exit) => exit.code === 0, "status 0");
    },
  },
  {
    id: "lifecycle.sigterm",
    title: "on SIGTERM it exits promptly (status 0, or ended by the signal)",
    async run({ launch, patienceMs }) {
      const program = await launch();
      await readHandshakeLine(program, 20_000);
      program.signal("SIGTERM");
      await expectExit(
        program,
        patienceMs,
        "after SIGTERM",
        (exit) => exit.code === 0 || exit.signal === "SIGTERM",
        "status 0 or SIGTERM",
      );
    },
  },
  {
    id: "lifecycle.sigint",
    title: "on SIGINT it exits promptly (status 0, or ended by the signal)",
    async run({ launch, patienceMs }) {
      const program = await launch();
      await readHandshakeLine(program, 20_000);
      program.signal("SIGINT");
      await expectExit(
        program,
        patienceMs,
        "after SIGINT",
        (exit) => exit.code === 0 || exit.signal === "SIGINT",
        "status 0 or SIGINT",
      );
    },
  },
  {
    id: "lifecycle.crash",
    title: "conformance.crash ends the process at once with status 3",
    async run({ connect, patienceMs }) {
      const { program, openSession } = await connect();
      const session = openSession();
      session.execute({ steps: [step("boom", "conformance.crash", {})] });
      await expectExit(program, patienceMs, "after conformance.crash", (exit) => exit.code === 3, "status 3");
    },
  },
];

async function expectExit(
  program: ProgramUnderTest,
  patienceMs: number,
  when: string,
  ok: (exit: ProgramExit) => boolean,
  what: string,
): Promise<void> {
  const exit = await program.waitForExit(patienceMs);
  expectThat(
    exit !== undefined && ok(exit),
    `${when}: an exit with ${what} within ${patienceMs} ms`,
    () =>
      `${exit === undefined ? "it was still running" : `it ${describeProgramExit(exit)}`}${stderrNote(program)}`,
  );
}
