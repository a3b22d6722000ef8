import { writeFile } from "node:fs/promises";
import { basename, dirname, isAbsolute, join } from "node:path";
import { create } from "@bufbuild/protobuf";
import {
  ABI_VERSIONS,
  DrainRequestSchema,
  ENV,
  HandshakeRequestSchema,
  ListNodeTypesRequestSchema,
  ShutdownRequestSchema,
  ValidateConfigRequestSchema,
} from "@conductor/sdk/protocol";
import { isCallError } from "../abi-client.js";
import { CheckFailure, type ConformanceCheck, expectThat, show } from "../conformance-check.js";
import { given, json, step } from "../kit-messages.js";
import { describeProgramExit, type ProgramUnderTest } from "../program-under-test.js";
import { describeError, KIT_FEATURES, readHandshakeLine, stderrNote } from "../runtime-fixture.js";
import { describeEvents } from "../session-driver.js";

const UNAUTHENTICATED_MESSAGE = "missing or wrong conductor-token";

/** Starting a runtime (docs/protocol.md §1.1, §1.2), its token (§1.4) and the Handshake RPC (§1.3). */
export const startChecks: ConformanceCheck[] = [
  {
    id: "start.no-cookie",
    title: "started without CONDUCTOR_COOKIE, it says what it is on stderr and exits with status 2",
    async run({ launch, patienceMs }) {
      const program = await launch({ omit: [ENV.cookie] });
      await expectStartedByHand(program, patienceMs);
    },
  },
  {
    id: "start.wrong-cookie",
    title: "started with a wrong CONDUCTOR_COOKIE, it says what it is on stderr and exits with status 2",
    async run({ launch, patienceMs }) {
      const program = await launch({ override: { [ENV.cookie]: "not-the-cookie" } });
      await expectStartedByHand(program, patienceMs);
    },
  },
  {
    id: "start.missing-variable",
    title:
      "with the cookie but without CONDUCTOR_SOCKET_DIR or CONDUCTOR_TOKEN, it names the variable and exits 2",
    async run({ launch, patienceMs }) {
      for (const variable of [ENV.socketDir, ENV.token]) {
        const program = await launch({ omit: [variable] });
        const exit = await program.waitForExit(patienceMs);
        const stderr = program.stderrTail().join("\n");
        expectThat(
          exit?.code === 2 && stderr.includes(variable),
          `without ${variable}: exit status 2 and a message on stderr naming ${variable}`,
          () =>
            `${exit === undefined ? `still running after ${patienceMs} ms` : describeProgramExit(exit)}; stderr: ${show(stderr.slice(-300))}`,
        );
        expectThat(
          !program.stdout().includes('"conductor"'),
          `without ${variable}: no handshake line`,
          () => `stdout ${show(program.stdout())}`,
        );
      }
    },
  },
  {
    id: "start.malformed-variable",
    title: "with a CONDUCTOR_INLINE_LIMIT that is not a number, it names the variable and exits 2",
    async run({ launch, patienceMs }) {
      const program = await launch({ override: { [ENV.inlineLimit]: "lots" } });
      const exit = await program.waitForExit(patienceMs);
      const stderr = program.stderrTail().join("\n");
      expectThat(
        exit?.code === 2 && stderr.includes(ENV.inlineLimit),
        `exit status 2 and a message on stderr naming ${ENV.inlineLimit}`,
        () =>
          `${exit === undefined ? `still running after ${patienceMs} ms` : describeProgramExit(exit)}; stderr: ${show(stderr.slice(-300))}`,
      );
    },
  },
  {
    id: "start.handshake-line",
    title:
      "it prints exactly one JSON handshake line with conductor, abi, network, address, pid, runtime, version",
    async run({ shared }) {
      const { program, line } = await shared();
      const text = program.stdout();
      expectThat(
        text.split("\n")[0] === line.text && text.endsWith("\n") && text.indexOf("\n") === text.length - 1,
        "stdout to hold exactly one line, the handshake line, ended by a newline",
        () => show(text),
      );
      const fields = line.fields;
      const problems: string[] = [];
      if (fields.conductor !== 1) problems.push(`"conductor" must be 1, found ${show(fields.conductor)}`);
      if (!ABI_VERSIONS.includes(fields.abi as number)) {
        problems.push(`"abi" must be one of ${ABI_VERSIONS.join(", ")} (offered), found ${show(fields.abi)}`);
      }
      if (fields.network !== "unix" && fields.network !== "tcp") {
        problems.push(`"network" must be "unix" or "tcp", found ${show(fields.network)}`);
      }
      const address = fields.address;
      if (typeof address !== "string" || address === "") {
        problems.push(`"address" must be a non-empty string, found ${show(address)}`);
      } else if (fields.network === "unix") {
        const expected = join(program.socketDir, `${program.name}.sock`);
        if (
          !isAbsolute(address) ||
          dirname(address) !== program.socketDir ||
          basename(address) !== `${program.name}.sock`
        ) {
          problems.push(
            `"address" must be ${show(expected)} (<CONDUCTOR_SOCKET_DIR>/<CONDUCTOR_RUNTIME_NAME>.sock), found ${show(address)}`,
          );
        }
      }
      if (!Number.isInteger(fields.pid) || (fields.pid as number) <= 0) {
        problems.push(`"pid" must be a positive integer, found ${show(fields.pid)}`);
      }
      if (fields.runtime !== program.name) {
        problems.push(
          `"runtime" must be CONDUCTOR_RUNTIME_NAME ${show(program.name)}, found ${show(fields.runtime)}`,
        );
      }
      if (typeof fields.version !== "string" || fields.version === "") {
        problems.push(`"version" must be a non-empty string, found ${show(fields.version)}`);
      }
      expectThat(problems.length === 0, "a handshake line as docs/protocol.md §1.2 specifies", () =>
        problems.join("; "),
      );
    },
  },
  {
    id: "start.abi-unsupported",
    title: "offered only ABI versions it does not speak, its handshake line names its own version",
    async run({ launch }) {
      const program = await launch({ override: { [ENV.abiVersions]: "99" } });
      const line = await readHandshakeLine(program, 20_000);
      expectThat(
        typeof line.fields.abi === "number" && line.fields.abi !== 99 && line.fields.abi >= 1,
        '"abi" set to its own highest version (not 99), so that the host can name both versions',
        () => show(line.fields.abi),
      );
    },
  },
  {
    id: "start.stale-socket",
    title: "a file left at its socket path by an earlier process does not keep it from starting",
    async run({ connect }) {
      const fixture = await connect({
        prepare: (socketDir) => writeFile(join(socketDir, "kit.sock"), "stale"),
      });
      expectThat(fixture.handshake.abiVersion >= 1, "an answer to Handshake", () => show(fixture.handshake));
    },
  },
  {
    id: "auth.missing-token",
    title: "a call without the conductor-token metadata fails with UNAUTHENTICATED",
    async run({ shared }) {
      const { client } = await shared();
      await expectUnauthenticated(
        "Handshake without a token",
        client.call("handshake", create(HandshakeRequestSchema, { abiVersions: [1] }), { token: null }),
      );
      await expectUnauthenticated(
        "ListNodeTypes without a token",
        client.call("listNodeTypes", create(ListNodeTypesRequestSchema, {}), { token: null }),
      );
    },
  },
  {
    id: "auth.wrong-token",
    title: "every RPC, the Session included, refuses a wrong token with UNAUTHENTICATED and does nothing",
    async run({ connect, patienceMs }) {
      // A process of its own: a runtime that wrongly obeyed Drain or Shutdown would spoil the shared one.
      const { client, program } = await connect();
      const wrong = { token: "0123456789abcdef" };
      await expectUnauthenticated(
        "Handshake with a wrong token",
        client.call("handshake", create(HandshakeRequestSchema, { abiVersions: [1] }), wrong),
      );
      await expectUnauthenticated(
        "ListNodeTypes with a wrong token",
        client.call("listNodeTypes", create(ListNodeTypesRequestSchema, {}), wrong),
      );
      await expectUnauthenticated(
        "ValidateConfig with a wrong token",
        client.call(
          "validateConfig",
          create(ValidateConfigRequestSchema, { nodeType: "conformance.add", config: json({}) }),
          wrong,
        ),
      );
      await expectUnauthenticated(
        "Drain with a wrong token",
        client.call("drain", create(DrainRequestSchema, { graceMs: 0 }), wrong),
      );
      await expectUnauthenticated(
        "Shutdown with a wrong token",
        client.call("shutdown", create(ShutdownRequestSchema, {}), wrong),
      );
      const session = client.openSession(wrong);
      const id = session.execute({ steps: [step("sum", "conformance.add", {}, {})] });
      const end = await Promise.race([
        session.done,
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), patienceMs).unref()),
      ]);
      expectThat(
        end?.error?.status === "UNAUTHENTICATED" && session.events(id).length === 0,
        `a Session with a wrong token ended with UNAUTHENTICATED "${UNAUTHENTICATED_MESSAGE}" and no events`,
        () =>
          end === undefined
            ? `the session was still open after ${patienceMs} ms`
            : `${end.error === undefined ? "a clean end" : `${end.error.status}: ${end.error.details}`} with ${session.events(id).length} events`,
      );
      // The runtime must still serve the right token as before: it neither drained nor shut down.
      try {
        await client.call("handshake", create(HandshakeRequestSchema, { abiVersions: [1] }));
      } catch (error) {
        throw new CheckFailure(
          "a runtime still serving after refused Drain and Shutdown calls",
          `${describeError(error)}${stderrNote(program)}`,
        );
      }
      const after = client.openSession();
      const sum = after.execute({
        steps: [step("sum", "conformance.add", {}, { a: given(json(1)), b: given(json(2)) })],
      });
      const events = await after.waitForEnd(sum, patienceMs);
      expectThat(
        events.at(-1)?.kind.case === "completed",
        "an Execute with the right token to complete after the refused Drain (the runtime must not be draining)",
        () => describeEvents(events),
      );
    },
  },
  {
    id: "handshake.before-handshake",
    title: "calls before Handshake are answered as usual (Handshake keeps no state)",
    async run({ shared }) {
      const { beforeHandshake } = await shared();
      expectThat(
        beforeHandshake.listing !== undefined,
        "ListNodeTypes, called before any Handshake, answered with the node types",
        () => describeError(beforeHandshake.error),
      );
    },
  },
  {
    id: "handshake.rpc",
    title:
      "Handshake answers the ABI version, RuntimeInfo, features, max_concurrency, max_message_bytes, schema_hash",
    async run({ shared }) {
      const { handshake, program } = await shared();
      const problems: string[] = [];
      if (handshake.abiVersion !== 1) problems.push(`abi_version must be 1, found ${handshake.abiVersion}`);
      const info = handshake.runtime;
      if (info === undefined) problems.push("runtime (RuntimeInfo) must be set");
      else {
        if (info.name !== program.name) {
          problems.push(
            `runtime.name must be CONDUCTOR_RUNTIME_NAME ${show(program.name)}, found ${show(info.name)}`,
          );
        }
        if (info.language === "") problems.push("runtime.language must name the language");
        if (info.version === "") problems.push("runtime.version must be set");
        if (info.pid === 0) problems.push("runtime.pid must be the process id");
      }
      if (handshake.maxConcurrency < 1)
        problems.push(`max_concurrency must be at least 1, found ${handshake.maxConcurrency}`);
      const limit = BigInt(program.abiEnv[ENV.maxMessageBytes] ?? "0");
      if (handshake.maxMessageBytes < 1n || handshake.maxMessageBytes > limit) {
        problems.push(
          `max_message_bytes must be between 1 and CONDUCTOR_MAX_MESSAGE_BYTES ${limit}, found ${handshake.maxMessageBytes}`,
        );
      }
      if (handshake.schemaHash === "") problems.push("schema_hash must be set");
      const unknown = handshake.features.filter((feature) => !(KIT_FEATURES as string[]).includes(feature));
      if (unknown.length > 0)
        problems.push(`features must be those of docs/protocol.md §1.3, found ${show(unknown)}`);
      expectThat(problems.length === 0, "a HandshakeResponse as docs/protocol.md §1.3 specifies", () =>
        problems.join("; "),
      );
    },
  },
  {
    id: "handshake.abi-choice",
    title: "Handshake chooses from the host's ABI versions, or answers its own when it speaks none of them",
    async run({ shared }) {
      const { client } = await shared();
      const offeredOne = await client.call(
        "handshake",
        create(HandshakeRequestSchema, { abiVersions: [2, 1], features: KIT_FEATURES }),
      );
      expectThat(offeredOne.abiVersion === 1, "abi_version 1 when offered [2, 1]", () =>
        String(offeredOne.abiVersion),
      );
      const offeredNone = await client.call(
        "handshake",
        create(HandshakeRequestSchema, { abiVersions: [99], features: KIT_FEATURES }),
      );
      expectThat(
        offeredNone.abiVersion !== 99 && offeredNone.abiVersion >= 1,
        "its own version (not 99) when offered only [99], so that the host names both versions",
        () => String(offeredNone.abiVersion),
      );
    },
  },
  {
    id: "handshake.repeat",
    title: "Handshake may be called again (a host that reattaches does) and answers the same",
    async run({ shared }) {
      const { client, handshake } = await shared();
      const again = await client.call(
        "handshake",
        create(HandshakeRequestSchema, { abiVersions: [...ABI_VERSIONS], features: KIT_FEATURES }),
      );
      expectThat(
        again.schemaHash === handshake.schemaHash &&
          again.maxConcurrency === handshake.maxConcurrency &&
          again.abiVersion === handshake.abiVersion,
        `the same abi_version, max_concurrency and schema_hash: ${show([handshake.abiVersion, handshake.maxConcurrency, handshake.schemaHash])}`,
        () => show([again.abiVersion, again.maxConcurrency, again.schemaHash]),
      );
    },
  },
];

/** A program started without the right cookie: exit status 2, a message on stderr, no handshake line. */
async function expectStartedByHand(program: ProgramUnderTest, patienceMs: number): Promise<void> {
  const exit = await program.waitForExit(patienceMs);
  const stderr = program.stderrTail().join("\n");
  expectThat(
    exit?.code === 2,
    "exit status 2",
    () =>
      `${exit === undefined ? `still running after ${patienceMs} ms` : describeProgramExit(exit)}${stderrNote(program)}`,
  );
  expectThat(
    /conductor/i.test(stderr),
    "a message on stderr saying what the program is (that the Conductor host starts it)",
    () => (stderr === "" ? "nothing on stderr" : show(stderr.slice(-300))),
  );
  expectThat(!program.stdout().includes('"conductor"'), "no handshake line on stdout", () =>
    show(program.stdout()),
  );
}

async function expectUnauthenticated(what: string, call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (error) {
    if (
      isCallError(error) &&
      error.status === "UNAUTHENTICATED" &&
      error.details.includes(UNAUTHENTICATED_MESSAGE)
    ) {
      return;
    }
    throw new CheckFailure(`${what}: UNAUTHENTICATED "${UNAUTHENTICATED_MESSAGE}"`, describeError(error));
  }
  throw new CheckFailure(`${what}: UNAUTHENTICATED "${UNAUTHENTICATED_MESSAGE}"`, "an answer");
}
