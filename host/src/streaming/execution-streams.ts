import { isAsyncIterable } from "@conductor/sdk";
import { type FailureInfo, toLive } from "@conductor/sdk/protocol";
import type { Binding } from "../blueprint/blueprint-graph.js";
import type { ExecutionPlan } from "../scheduler/execution-plan.js";
import { concatCollectedTables } from "./collected-tables.js";
import { PullSource } from "./pull-source.js";
import { type ChannelSource, RemoteOutputStream } from "./remote-stream.js";
import { StreamChannel, type StreamState } from "./stream-channel.js";
import { collectedTables } from "./stream-wiring.js";

/** What the execution does when its streams move; implemented by the dispatch loop (scheduler/execution.ts). */
export interface StreamEvents {
  /** The producer's streams are open: consumers reading them item by item may start. */
  opened(producer: number): void;
  /**
   * Every stream of the producer settled. `failure`: one of them failed (the producer failed); `stopped`: one
   * was stopped before its end (its readers stopped, or the execution was cancelled), with why.
   */
  settled(producer: number, outcome: StreamOutcome): void;
  /** How far one stream got, for the journal and watchers (`node.stream` events). */
  progress(producer: number, port: string, items: number, state: StreamState): void;
  /**
   * A producer's stream failed after checkpoints on all its streams: gives true when its retry policy retries it
   * (the execution dispatches it again, with {@link ExecutionStreams.resumeOf}), and its streams go on.
   */
  retryFromCheckpoint(producer: number, failure: FailureInfo): boolean;
  /** A producer retried from its checkpoint streams again: it is running. */
  resumed(producer: number): void;
  /**
   * Whether a consumer has already ended, as a resumed execution's reader that completed before the host stopped
   * (its producer runs again for another reader): its reader of the new stream is detached from the start.
   */
  ended(consumer: number): boolean;
}

/** How a producer's streams ended. */
export type StreamOutcome =
  | { kind: "ended" }
  | { kind: "failed"; failure: FailureInfo }
  | { kind: "stopped"; reason: string };

/** Options of {@link ExecutionStreams}. */
export interface ExecutionStreamsOptions {
  /** Credits per stream: the most items held between a producer and its slowest reader. Default 64. */
  window?: number;
  /** A `node.stream` progress event every this many items. Default 1000. */
  progressEvery?: number;
}

interface OpenProducer {
  channels: Map<string, StreamChannel>;
  sources: Map<string, ChannelSource>;
  unsettled: number;
  stopReason: string | undefined;
  /** Its streams wait for its retry from their checkpoints. */
  resuming: boolean;
}

/**
 * The streams of one execution: a channel per stream output of each producer that is streaming, the readers its
 * consumers get, and what ends them. The dispatch loop calls it only for nodes its plan marks as streaming, so a
 * blueprint without streams never reaches it.
 */
export class ExecutionStreams {
  private readonly producers = new Map<number, OpenProducer>();
  private readonly window: number;
  private readonly progressEvery: number;

  constructor(
    private readonly plan: ExecutionPlan,
    private readonly events: StreamEvents,
    options: ExecutionStreamsOptions = {},
  ) {
    this.window = Math.max(1, options.window ?? 64);
    this.progressEvery = Math.max(1, options.progressEvery ?? 1000);
  }

  /**
   * A producer's step returned outputs holding `AsyncIterable`s (in process) or {@link RemoteOutputStream}s (a
   * child runtime's stream, docs/protocol.md §3.5) on its stream ports: opens a channel per port,
   * puts them in `outputs` (where the consumers' inputs are read from) and starts pulling. Gives false when no
   * stream port holds a stream (the node produced none), so the node completes as any other.
   */
  open(producer: number, outputs: Record<string, unknown>): boolean {
    const streams = this.plan.streams[producer];
    if (streams === undefined) return false;
    const resuming = this.producers.get(producer);
    if (resuming?.resuming === true) return this.reopen(producer, resuming, outputs);
    const nodeId = this.plan.graph.nodes[producer]!.id;
    const open: OpenProducer = {
      channels: new Map(),
      sources: new Map(),
      unsettled: 0,
      stopReason: undefined,
      resuming: false,
    };
    for (const port of streams.ports) {
      const value = outputs[port.port];
      let source: ChannelSource;
      if (value instanceof RemoteOutputStream) source = value;
      else if (isAsyncIterable(value)) source = new PullSource(value);
      else continue;
      const channel = new StreamChannel({
        producer: nodeId,
        port: port.port,
        readers: port.readers.length,
        window: this.window,
        collect: port.collected,
        // The source of the current attempt: a retry from a checkpoint replaces it.
        onCredit: (credits) => open.sources.get(port.port)?.credit(credits),
        onAbandoned: () => {
          open.sources.get(port.port)?.stop();
          channel.stop(`every node reading it stopped before its end`);
        },
        onFailure: (failure) => this.retryFromCheckpoint(producer, open, failure),
        onSettled: () => {
          this.events.progress(producer, port.port, channel.count, channel.state);
          if (--open.unsettled === 0) this.settle(producer, open);
        },
        onItem: (count) => {
          if (count % this.progressEvery === 0) this.events.progress(producer, port.port, count, "open");
        },
      });
      source.channel = channel;
      open.channels.set(port.port, channel);
      open.sources.set(port.port, source);
      open.unsettled++;
      outputs[port.port] = channel;
    }
    if (open.unsettled === 0) return false;
    this.producers.set(producer, open);
    for (const port of streams.ports) {
      const channel = open.channels.get(port.port);
      for (const reader of port.readers)
        if (this.events.ended(reader.consumer)) channel?.detach(reader.reader);
    }
    this.events.opened(producer);
    for (const [port, channel] of open.channels) {
      this.events.progress(producer, port, 0, "open");
      channel.start();
    }
    return true;
  }

  /**
   * Where each stream of a producer being retried from its checkpoints resumes (`StepRequest.resume`), or
   * undefined when it is not.
   */
  resumeOf(producer: number): Record<string, { offset: number; state: unknown }> | undefined {
    const open = this.producers.get(producer);
    if (open?.resuming !== true) return undefined;
    const resume: Record<string, { offset: number; state: unknown }> = {};
    for (const [port, channel] of open.channels) resume[port] = channel.checkpoint!;
    return resume;
  }

  /** A producer being retried from its checkpoints failed for good before it streamed again: its streams fail. */
  producerFailed(producer: number, failure: FailureInfo): void {
    const open = this.producers.get(producer);
    if (open?.resuming !== true) return;
    open.resuming = false;
    for (const channel of open.channels.values()) channel.fail(failure, true);
  }

  /**
   * One of a producer's streams failed: when every stream of it has a checkpoint and the execution retries it,
   * its streams are suspended (their readers wait) until the retry streams again, and the failure goes no
   * further.
   */
  private retryFromCheckpoint(producer: number, open: OpenProducer, failure: FailureInfo): boolean {
    if ([...open.channels.values()].some((channel) => channel.checkpoint === undefined)) return false;
    if (!this.events.retryFromCheckpoint(producer, failure)) return false;
    open.resuming = true;
    for (const [port, channel] of open.channels) {
      channel.suspend();
      open.sources.get(port)?.stop();
    }
    return true;
  }

  /** The retry of a producer suspended at its checkpoints returned its streams: they feed the same channels. */
  private reopen(producer: number, open: OpenProducer, outputs: Record<string, unknown>): boolean {
    open.resuming = false;
    for (const [port, channel] of open.channels) {
      const value = outputs[port];
      const source =
        value instanceof RemoteOutputStream
          ? value
          : isAsyncIterable(value)
            ? new PullSource(value)
            : undefined;
      outputs[port] = channel;
      if (source === undefined) {
        channel.fail(
          {
            message: `node "${this.plan.graph.nodes[producer]!.id}" was retried from its checkpoint but gave no stream on output "${port}"`,
            type: "output.invalid",
            retryable: false,
          },
          true,
        );
        continue;
      }
      source.channel = channel;
      open.sources.set(port, source);
      channel.resume();
    }
    this.events.resumed(producer);
    return true;
  }

  /**
   * The inputs a consumer is given: a reader for each input reading a stream item by item, the list of items for
   * one collecting a stream (which has ended by then), or one table for an input collecting Arrow batches. Throws
   * a {@link NodeFailure} (`stream.schema-mismatch`) when those batches do not share one schema.
   */
  inputsFor(consumer: number, inputs: Record<string, unknown>): Record<string, unknown> {
    const node = this.plan.graph.nodes[consumer]!;
    let given = inputs;
    for (const port in inputs) {
      const value = inputs[port];
      if (!(value instanceof StreamChannel)) continue;
      if (given === inputs) given = { ...inputs };
      const binding = node.inputs[port];
      const reader = this.plan.streamInputs[consumer]?.get(port);
      if (binding?.kind === "node" && binding.collect === true)
        given[port] = this.collected(consumer, port, value);
      else if (reader !== undefined) given[port] = value.reader(reader.reader, node.id);
    }
    return given;
  }

  /**
   * What an input collecting a stream is given: the list of its items, live (items of a child runtime's stream are
   * kept as they came on the wire), or one table concatenating them when the items are Arrow batches and the input
   * takes a table. Throws a {@link NodeFailure} when those batches do not share one schema.
   */
  private collected(consumer: number, input: string, channel: StreamChannel): unknown {
    const node = this.plan.graph.nodes[consumer]!;
    const binding = node.inputs[input] as Extract<Binding, { kind: "node" }>;
    const producer = this.plan.graph.nodes[binding.node]!;
    const items = channel.collected ?? [];
    const itemSchema = producer.nodeType.outputs.find((port) => port.name === binding.port)?.schema;
    const inputSchema = node.nodeType.inputs.find((port) => port.name === input)?.schema;
    if (collectedTables(schemaOf(itemSchema), schemaOf(inputSchema)) !== "table") return items.map(toLive);
    return concatCollectedTables(items, {
      consumer: node.id,
      input,
      producer: producer.id,
      port: binding.port,
    });
  }

  /** A consumer ended (completed, failed or cancelled): its readers read no more. */
  consumerEnded(consumer: number): void {
    const inputs = this.plan.streamInputs[consumer];
    if (inputs === undefined) return;
    for (const input of inputs.values()) {
      this.producers.get(input.producer)?.channels.get(input.port)?.detach(input.reader);
    }
  }

  /** Whether a node is streaming now. */
  streaming(producer: number): boolean {
    return this.producers.has(producer);
  }

  /** Stops every stream (the execution was cancelled): producers are stopped, readers get an error. */
  stopAll(reason: string): void {
    for (const open of [...this.producers.values()]) {
      open.stopReason ??= reason;
      for (const [port, channel] of open.channels) {
        open.sources.get(port)!.stop();
        channel.stop(reason);
      }
    }
  }

  /** A plain stand-in for the stream values among a node's inputs or outputs, for events and records. */
  static describe(values: Record<string, unknown>): Record<string, unknown> {
    let described = values;
    for (const port in values) {
      const value = values[port];
      if (value instanceof StreamChannel) {
        if (described === values) described = { ...values };
        described[port] = value.describe();
      } else if (isAsyncIterable(value)) {
        if (described === values) described = { ...values };
        described[port] = { stream: true };
      }
    }
    return described;
  }

  private settle(producer: number, open: OpenProducer): void {
    this.producers.delete(producer);
    let outcome: StreamOutcome = { kind: "ended" };
    for (const channel of open.channels.values()) {
      if (channel.state === "failed") {
        outcome = { kind: "failed", failure: channel.failure! };
        break;
      }
      if (channel.state === "stopped" && outcome.kind === "ended") {
        outcome = { kind: "stopped", reason: open.stopReason ?? channel.stopReason };
      }
    }
    this.events.settled(producer, outcome);
  }
}

/** A port's JSON Schema text as an object; one that says nothing (or cannot be read) as `{}`. */
function schemaOf(text: string | undefined): Record<string, unknown> {
  try {
    const parsed = text === undefined || text === "" ? {} : (JSON.parse(text) as unknown);
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
