import { create } from "@bufbuild/protobuf";
import { ABI_VERSIONS, HandshakeRequestSchema, SessionRequestSchema } from "@conductor/sdk/protocol";
import { type ConformanceCheck, expectEqual, expectThat } from "../conformance-check.js";
import { checkGrammar, given, json, jsonTextOf, step, terminal } from "../kit-messages.js";
import { encodeReordered, type ReorderOptions } from "../reordered-encoding.js";
import { KIT_FEATURES, type RuntimeFixture } from "../runtime-fixture.js";
import { describeEvents } from "../session-driver.js";

/** Protobuf as any correct encoder may write it: fields in any order, unknown fields (docs/protocol.md §3.1). */
export const wireChecks: ConformanceCheck[] = [
  {
    id: "wire.field-order",
    title: "messages whose fields come in reverse order (map entries value first) mean the same",
    async run({ shared, patienceMs }) {
      const fixture = await shared();
      await expectSameMeaning(fixture, { reverse: true }, patienceMs);
    },
  },
  {
    id: "wire.unknown-fields",
    title: "unknown fields (a newer host's additions) in every message but map entries are skipped",
    async run({ shared, patienceMs }) {
      const fixture = await shared();
      await expectSameMeaning(fixture, { unknownFields: true }, patienceMs);
    },
  },
];

/** Sends a Handshake, an Execute and a Cancel encoded with `options`, and checks that each did what it says. */
async function expectSameMeaning(
  fixture: RuntimeFixture,
  options: ReorderOptions,
  patienceMs: number,
): Promise<void> {
  const handshake = await fixture.client.callRaw(
    "handshake",
    encodeReordered(
      HandshakeRequestSchema,
      create(HandshakeRequestSchema, {
        hostVersion: "conformance-kit",
        abiVersions: [...ABI_VERSIONS],
        features: KIT_FEATURES,
      }),
      options,
    ),
  );
  expectThat(handshake.abiVersion === 1, "Handshake to answer abi_version 1", () =>
    String(handshake.abiVersion),
  );

  const session = fixture.session();
  const sumId = session.nextId();
  const napId = session.nextId();
  const request = create(SessionRequestSchema, {
    commands: [
      {
        kind: {
          case: "execute",
          value: {
            invocationId: sumId,
            executionId: "kit-wire",
            steps: [
              step(
                "sum",
                "conformance.add",
                { offset: 10 },
                { a: given(json(2)), b: given(json(3)) },
                60_000,
              ),
            ],
          },
        },
      },
      {
        kind: {
          case: "execute",
          value: { invocationId: napId, steps: [step("nap", "conformance.sleep", { ms: 60_000 })] },
        },
      },
    ],
  });
  session.sendBytes(
    encodeReordered(SessionRequestSchema, request, options),
    new Map([
      [sumId, 1],
      [napId, 1],
    ]),
  );
  const events = await session.waitForEnd(sumId, patienceMs);
  checkGrammar(events, 1);
  const last = terminal(events, "completed");
  expectThat(last.kind.case === "completed", `invocation ${sumId} (conformance.add) completed`, () =>
    describeEvents(events),
  );
  expectEqual(
    JSON.parse(jsonTextOf(last.kind.value.outputs.sum, 'output "sum"')),
    15,
    'output "sum" (2 + 3 + 10)',
  );

  await session.waitUntil(
    () => session.events(napId).some((event) => event.kind.case === "started"),
    `invocation ${napId} (conformance.sleep) started`,
    patienceMs,
    () => describeEvents(session.events(napId)),
  );
  const cancel = create(SessionRequestSchema, {
    commands: [
      { kind: { case: "cancel", value: { invocationId: napId, reason: "kit-wire", graceMs: 5_000 } } },
    ],
  });
  session.sendBytes(encodeReordered(SessionRequestSchema, cancel, options));
  const napEvents = await session.waitForEnd(napId, patienceMs);
  const end = terminal(napEvents, "cancelled");
  expectThat(
    end.kind.case === "cancelled" && end.kind.value.reason === "kit-wire",
    `invocation ${napId} cancelled with the reason "kit-wire" by the Cancel`,
    () => describeEvents(napEvents),
  );
}
