import { create } from "@bufbuild/protobuf";
import {
  ABI_VERSIONS,
  FEATURES,
  HandshakeRequestSchema,
  type HandshakeResponse,
  ListNodeTypesRequestSchema,
  type ListNodeTypesResponse,
  type NodeType,
} from "@conductor/sdk/protocol";
import { type AbiClient, connectAbiClient } from "./abi-client.js";
import { CheckFailure } from "./conformance-check.js";
import { describeProgramExit, type ProgramUnderTest } from "./program-under-test.js";
import type { SessionDriver } from "./session-driver.js";

/** The handshake line a runtime printed (docs/protocol.md §1.2), as text and as parsed fields. */
export interface HandshakeLine {
  text: string;
  fields: Record<string, unknown>;
}

/** A started runtime the kit is connected to, after its Handshake. */
export interface RuntimeFixture {
  readonly program: ProgramUnderTest;
  readonly line: HandshakeLine;
  readonly client: AbiClient;
  /** What ListNodeTypes answered when called before any Handshake (the first call on the connection). */
  readonly beforeHandshake: { listing?: ListNodeTypesResponse; error?: unknown };
  readonly handshake: HandshakeResponse;
  readonly nodeTypes: ReadonlyMap<string, NodeType>;
  has(feature: string): boolean;
  /** The session the checks share; opened again if an earlier check ended it. */
  session(): SessionDriver;
  /** A session of its own, closed when the fixture stops. */
  openSession(): SessionDriver;
  stop(): Promise<void>;
}

/** The features the kit speaks, sent in its Handshake. */
export const KIT_FEATURES = [
  FEATURES.steps,
  FEATURES.arrow,
  FEATURES.blob,
  FEATURES.streams,
  FEATURES.checkpoints,
];

/**
 * Waits for a started program's handshake line, connects to its address, calls ListNodeTypes (before any
 * Handshake, which the spec allows) and then Handshake. Throws a {@link CheckFailure} saying which of these went
 * wrong, with the program's exit and last stderr lines, because every check that needs a runtime reports it.
 */
export async function openRuntimeFixture(
  program: ProgramUnderTest,
  startMs: number,
): Promise<RuntimeFixture> {
  const line = await readHandshakeLine(program, startMs);
  const network = String(line.fields.network);
  const address = String(line.fields.address);
  let client: AbiClient;
  try {
    client = await connectAbiClient({ network, address, token: program.token, connectTimeoutMs: startMs });
  } catch (error) {
    throw new CheckFailure(
      `a gRPC server at ${network} address ${address}, the address of the handshake line`,
      `no connection: ${(error as Error).message}${stderrNote(program)}`,
    );
  }
  const beforeHandshake: { listing?: ListNodeTypesResponse; error?: unknown } = {};
  try {
    beforeHandshake.listing = await client.call("listNodeTypes", create(ListNodeTypesRequestSchema, {}));
  } catch (error) {
    beforeHandshake.error = error;
  }
  let handshake: HandshakeResponse;
  try {
    handshake = await client.call(
      "handshake",
      create(HandshakeRequestSchema, {
        hostVersion: "conformance-kit",
        abiVersions: [...ABI_VERSIONS],
        features: KIT_FEATURES,
      }),
    );
  } catch (error) {
    client.close();
    throw new CheckFailure("an answer to Handshake", `${describeError(error)}${stderrNote(program)}`);
  }
  const listing =
    beforeHandshake.listing ?? (await client.call("listNodeTypes", create(ListNodeTypesRequestSchema, {})));
  const nodeTypes = new Map(listing.nodeTypes.map((nodeType) => [nodeType.type, nodeType]));
  const sessions: SessionDriver[] = [];
  let shared: SessionDriver | undefined;
  const openSession = () => {
    const session = client.openSession();
    sessions.push(session);
    return session;
  };
  return {
    program,
    line,
    client,
    beforeHandshake,
    handshake,
    nodeTypes,
    has: (feature) => handshake.features.includes(feature),
    session: () => {
      if (shared === undefined || shared.closed !== undefined) shared = openSession();
      return shared;
    },
    openSession,
    stop: async () => {
      for (const session of sessions) session.close();
      client.close();
      await program.stop();
    },
  };
}

/** Reads the program's handshake line; throws a {@link CheckFailure} when there is none. */
export async function readHandshakeLine(program: ProgramUnderTest, startMs: number): Promise<HandshakeLine> {
  const first = await program.firstLine(startMs);
  if (first === undefined) {
    throw new CheckFailure(
      `a handshake line on stdout within ${startMs} ms`,
      `nothing${program.stdout() === "" ? "" : ` but ${JSON.stringify(program.stdout().slice(0, 200))}`}${stderrNote(program)}`,
    );
  }
  if (typeof first !== "string") {
    throw new CheckFailure(
      "a handshake line on stdout",
      `the program ${describeProgramExit(first)} before writing one${stderrNote(program)}`,
    );
  }
  // As the host does, tolerate a banner before the line here; the handshake-line check is strict about it.
  for (const text of program.stdout().split("\n")) {
    const start = text.indexOf("{");
    if (start < 0) continue;
    try {
      const fields = JSON.parse(text.slice(start)) as unknown;
      if (typeof fields === "object" && fields !== null && "conductor" in fields) {
        return { text, fields: fields as Record<string, unknown> };
      }
    } catch {
      // not the line
    }
  }
  throw new CheckFailure(
    'a JSON object with a "conductor" field as the handshake line',
    JSON.stringify(first.slice(0, 200)),
  );
}

/** The program's last stderr lines, for a report. */
export function stderrNote(program: ProgramUnderTest): string {
  const tail = program.stderrTail().slice(-6);
  return tail.length === 0 ? "" : `; its last stderr lines: ${tail.map((line) => line.trim()).join(" | ")}`;
}

/** Renders an error of a call for a report line. */
export function describeError(error: unknown): string {
  if (typeof error === "object" && error !== null && "status" in error && "details" in error) {
    return `${String(error.status)}: ${String(error.details)}`;
  }
  return error instanceof Error ? error.message : String(error);
}
