import type { BlueprintGraph } from "../blueprint/blueprint-graph.js";

/** One input that reads a stream output. */
export interface StreamReader {
  /** The consumer node and its input port. */
  consumer: number;
  input: string;
  /** The reader's index in its channel; -1 for an input that collects the stream into one list. */
  reader: number;
}

/** One stream output port of a node, and who reads it. */
export interface StreamPort {
  port: string;
  /** Inputs reading it item by item: each a reader of the channel, in this order. */
  readers: StreamReader[];
  /** Whether some input collects it (`collect: true`), so the channel keeps every item. */
  collected: boolean;
}

/** The streams of one producer node. */
export interface ProducerStreams {
  ports: StreamPort[];
  /**
   * Successors that start as soon as the producer starts streaming: every binding they have to it reads a stream
   * item by item. The others (reading a collected stream or a plain output) wait for the producer to finish.
   */
  early: ReadonlySet<number>;
}

/**
 * Finds, by node index, the stream outputs of each node that has some, and which consumers start on the first
 * item. Computed once per plan, so a blueprint without streams costs the dispatch loop nothing but an undefined
 * check.
 */
export function findStreams(graph: BlueprintGraph): (ProducerStreams | undefined)[] {
  const streams: (ProducerStreams | undefined)[] = new Array(graph.nodes.length).fill(undefined);
  for (const producer of graph.nodes) {
    const streamPorts = producer.nodeType.outputs.filter((port) => port.stream);
    if (streamPorts.length === 0) continue;
    const ports: StreamPort[] = streamPorts.map((port) => ({
      port: port.name,
      readers: [],
      collected: false,
    }));
    const late = new Set<number>();
    const reading = new Set<number>();
    for (const consumerIndex of producer.successors) {
      const consumer = graph.nodes[consumerIndex]!;
      for (const [input, binding] of Object.entries(consumer.inputs)) {
        if (binding.kind !== "node" || binding.node !== producer.index) continue;
        const port = ports.find((candidate) => candidate.port === binding.port);
        if (port === undefined || binding.collect === true) {
          late.add(consumerIndex);
          if (port !== undefined) port.collected = true;
          continue;
        }
        reading.add(consumerIndex);
        port.readers.push({ consumer: consumerIndex, input, reader: port.readers.length });
      }
    }
    const early = new Set([...reading].filter((index) => !late.has(index)));
    streams[producer.index] = { ports, early };
  }
  return streams;
}

/** An input reading a stream item by item: which producer, which of its ports, which reader of the channel. */
export interface StreamInput {
  producer: number;
  port: string;
  reader: number;
}

/** The stream inputs of each consumer node, by node index (the inverse of {@link findStreams}). */
export function streamInputsOf(
  streams: readonly (ProducerStreams | undefined)[],
  count: number,
): (Map<string, StreamInput> | undefined)[] {
  const inputs: (Map<string, StreamInput> | undefined)[] = new Array(count).fill(undefined);
  streams.forEach((producer, index) => {
    for (const port of producer?.ports ?? []) {
      for (const reader of port.readers) {
        let map = inputs[reader.consumer];
        if (map === undefined) {
          map = new Map();
          inputs[reader.consumer] = map;
        }
        map.set(reader.input, { producer: index, port: port.port, reader: reader.reader });
      }
    }
  });
  return inputs;
}
