import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  decodeSessionRequest,
  dispatchSessionResponse,
  EncodedValue,
  encodeValue,
  failureFromWire,
  type InvocationRequest,
  type InvocationSink,
  type LogLevel,
  SessionRequestSchema,
  SessionRequestWriter,
  SessionResponseSchema,
  SessionResponseWriter,
  type StepInput,
  type Value,
} from "@conductor/sdk/protocol";
import { summarize } from "../stats.js";
import { againstFloor, type BenchResult, type Scenario } from "./index.js";

/**
 * The reason the hand-written session codec exists (docs/decisions.md, "The data plane"): one dispatch's
 * messages (the host encodes an Execute, the runtime decodes it, encodes `started` + `completed`, the host
 * decodes them into sink calls) cost less through it than through protobuf-es's `create` + `toBinary` /
 * `fromBinary` doing the same work on the same messages. The protobuf-es path below is what the codec would be
 * replaced with: it converts between the same in-memory types and messages, so both sides do equal work.
 */
export const codecScenario: Scenario = {
  id: "codec",
  title: "session codec against protobuf-es toBinary/fromBinary on the same messages",
  async run(context) {
    const results: BenchResult[] = [];
    for (const [id, what, request] of [
      ["codec-dispatch", "one node's session messages (Execute, started, completed)", invocation(1)],
      ["codec-chain-10", "a 10-step chain's session messages", invocation(10)],
    ] as const) {
      const ours = () => roundTrip(request, codecPath);
      const theirs = () => roundTrip(request, protobufEsPath);
      // Both must mean the same, or the comparison is void.
      const [a, b] = [ours(), theirs()];
      if (JSON.stringify(a) !== JSON.stringify(b)) {
        throw new Error(`the two paths disagree: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      }
      const rounds = context.smoke ? 5 : 60;
      const perRound = context.smoke ? 50 : 2_000;
      const [codec, reference] = timeInterleaved(ours, theirs, rounds, perRound);
      results.push(
        againstFloor(
          id,
          `${what} through the session codec, per dispatch`,
          codec,
          { what: "protobuf-es create + toBinary / fromBinary", value: reference },
          0.6,
        ),
      );
    }
    return results;
  },
};

interface Path {
  encodeRequest(request: InvocationRequest): Uint8Array;
  decodeRequest(bytes: Uint8Array): InvocationRequest;
  encodeResponse(request: InvocationRequest): Uint8Array;
  dispatchResponse(bytes: Uint8Array, sink: InvocationSink): void;
}

const blobs = { inlineLimit: 1 << 20 };

/** One dispatch's messages both ways; gives what the host's sink saw, to compare the two paths. */
function roundTrip(request: InvocationRequest, path: Path): unknown[] {
  const received = path.decodeRequest(path.encodeRequest(request));
  const seen: unknown[] = [];
  path.dispatchResponse(path.encodeResponse(received), {
    started: (step) => seen.push(["started", step]),
    completed: (step, outputs) => seen.push(["completed", step, Object.keys(outputs)]),
    failed: (step, failure) => seen.push(["failed", step, failure.type]),
    log: () => {},
    progress: () => {},
    chunk: () => {},
    heartbeat: () => {},
    cancelled: () => {},
    rejected: () => {},
  });
  return seen;
}

const codecPath: Path = {
  encodeRequest(request) {
    const writer = new SessionRequestWriter(blobs);
    writer.execute(request);
    return writer.finish();
  },
  decodeRequest(bytes) {
    const [command] = decodeSessionRequest(bytes);
    if (command?.kind !== "execute") throw new Error("expected an execute command");
    return command.request;
  },
  encodeResponse(request) {
    const writer = new SessionResponseWriter(blobs);
    const sink = writer.sink(request.invocationId, () => {});
    for (let step = 0; step < request.steps.length; step++) {
      sink.started(step);
      sink.completed(step, { x: 2 }, 12);
    }
    return writer.finish();
  },
  dispatchResponse(bytes, sink) {
    dispatchSessionResponse(bytes, () => sink);
  },
};

const encodedConfigs = new WeakMap<object, Value>();

/** The same work with protobuf-es messages, as the codec would be replaced. */
const protobufEsPath: Path = {
  encodeRequest(request) {
    const message = create(SessionRequestSchema, {
      commands: [
        {
          kind: {
            case: "execute",
            value: {
              invocationId: BigInt(request.invocationId),
              executionId: request.executionId,
              steps: request.steps.map((step) => {
                const config = step.config as object;
                let value = encodedConfigs.get(config);
                if (value === undefined) {
                  value = encodeValue(config);
                  encodedConfigs.set(config, value);
                }
                const inputs: Record<
                  string,
                  | { source: { case: "value"; value: Value } }
                  | { source: { case: "stepOutput"; value: { step: number; port: string } } }
                  | { source: { case: "stream"; value: { nodeId: string; port: string } } }
                > = {};
                for (const port in step.inputs) {
                  const input = step.inputs[port]!;
                  inputs[port] =
                    "step" in input
                      ? { source: { case: "stepOutput", value: input } }
                      : "stream" in input
                        ? { source: { case: "stream", value: input.stream } }
                        : { source: { case: "value", value: encodeValue(input.value, blobs) } };
                }
                return {
                  nodeId: step.nodeId,
                  nodeType: step.nodeType,
                  attempt: step.attempt,
                  config: value,
                  inputs,
                  timeoutMs: step.timeoutMs,
                };
              }),
            },
          },
        },
      ],
    });
    return toBinary(SessionRequestSchema, message);
  },
  decodeRequest(bytes) {
    const message = fromBinary(SessionRequestSchema, bytes);
    const kind = message.commands[0]!.kind;
    if (kind.case !== "execute") throw new Error("expected an execute command");
    return {
      invocationId: Number(kind.value.invocationId),
      executionId: kind.value.executionId,
      steps: kind.value.steps.map((step) => {
        const inputs: Record<string, StepInput> = {};
        for (const [port, input] of Object.entries(step.inputs)) {
          if (input.source.case === "value") inputs[port] = { value: new EncodedValue(input.source.value) };
          else if (input.source.case === "stepOutput") inputs[port] = input.source.value;
        }
        return {
          nodeId: step.nodeId,
          nodeType: step.nodeType,
          attempt: step.attempt,
          config: step.config === undefined ? {} : new EncodedValue(step.config),
          inputs,
          timeoutMs: step.timeoutMs,
        };
      }),
    };
  },
  encodeResponse(request) {
    const events = [];
    for (let step = 0; step < request.steps.length; step++) {
      events.push({
        invocationId: BigInt(request.invocationId),
        step,
        kind: { case: "started" as const, value: {} },
      });
      events.push({
        invocationId: BigInt(request.invocationId),
        step,
        kind: {
          case: "completed" as const,
          value: { outputs: { x: encodeValue(2, blobs) }, durationUs: 12n },
        },
      });
    }
    return toBinary(SessionResponseSchema, create(SessionResponseSchema, { events }));
  },
  dispatchResponse(bytes, sink) {
    const levels: Record<number, LogLevel> = { 1: "debug", 2: "info", 3: "warn", 4: "error" };
    for (const event of fromBinary(SessionResponseSchema, bytes).events) {
      const kind = event.kind;
      switch (kind.case) {
        case "started":
          sink.started(event.step);
          break;
        case "completed": {
          const outputs: Record<string, unknown> = {};
          for (const [port, value] of Object.entries(kind.value.outputs))
            outputs[port] = new EncodedValue(value);
          sink.completed(event.step, outputs, Number(kind.value.durationUs));
          break;
        }
        case "failed":
          sink.failed(event.step, failureFromWire(kind.value.failure!), Number(kind.value.durationUs));
          break;
        case "log":
          sink.log(event.step, levels[kind.value.level] ?? "info", kind.value.message, undefined);
          break;
        default:
          break;
      }
    }
  },
};

/** An invocation of `steps` steps like the benchmarks' trivial nodes: a small config, one JSON input each. */
function invocation(steps: number): InvocationRequest {
  const config = { offset: 1 };
  return {
    invocationId: 41,
    executionId: "0193c8a6-7f3e-7000-8000-000000000001",
    steps: Array.from({ length: steps }, (_, index) => ({
      nodeId: `n${index}`,
      nodeType: "bench.increment",
      attempt: 1,
      config,
      inputs: index === 0 ? { x: { value: 1 } } : { x: { step: index - 1, port: "x" } },
      timeoutMs: 0,
    })),
  };
}

/**
 * Median microseconds per call of each of two operations, timed in alternating rounds so that both see the same
 * machine state (a 2-core machine shared with other work drifts over a run).
 */
function timeInterleaved(
  first: () => unknown,
  second: () => unknown,
  rounds: number,
  perRound: number,
): [number, number] {
  for (let i = 0; i < perRound; i++) {
    first();
    second();
  }
  const a: number[] = [];
  const b: number[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const [operation, samples] of [
      [first, a],
      [second, b],
    ] as const) {
      const started = performance.now();
      for (let i = 0; i < perRound; i++) operation();
      samples.push(((performance.now() - started) * 1000) / perRound);
    }
  }
  return [summarize(a).median, summarize(b).median];
}
