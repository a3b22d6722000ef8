import { z } from "zod";
import { NodeFailure } from "./node-failure.js";

/**
 * The mark a {@link stream} port's schema carries: the zod schema of one item. Registered, so two copies of the
 * sdk agree.
 */
export const STREAM_ITEM = Symbol.for("conductor.stream-item");

/** Whether a value can be iterated with `for await` (an async generator, a stream reader, a Node stream). */
export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function"
  );
}

/**
 * Declares a port that carries a stream of items rather than one value (docs/streaming.md). As an input, the node
 * receives an `AsyncIterable` of items and may start before its producer has finished; as an output, the node
 * returns an `AsyncIterable` (an async generator, typically) for the port, and its consumers read the items while
 * it produces them, at the pace of the slowest one. The item schema is what the host checks the wiring with.
 *
 * @example
 * export const lines = defineNode({
 *   type: "demo.lines",
 *   input: { text: z.string() },
 *   output: { lines: stream(z.string()) },
 *   run: ({ text }) => ({ lines: (async function* () { yield* text.split("\n"); })() }),
 * });
 */
export function stream<Item extends z.ZodType>(item: Item): z.ZodType<AsyncIterable<z.output<Item>>> {
  const schema = z.custom<AsyncIterable<z.output<Item>>>(isAsyncIterable, {
    message: "expected a stream (an AsyncIterable of items)",
  });
  // An enumerable property of the definition, because zod copies it into the clones `.describe()` and the
  // like return.
  (schema._zod.def as unknown as Record<symbol, unknown>)[STREAM_ITEM] = item;
  return schema;
}

/** The item schema of a {@link stream} port's schema, or undefined for a port holding one value. */
export function streamItemOf(schema: z.ZodType): z.ZodType | undefined {
  return (schema._zod.def as unknown as Record<symbol, z.ZodType | undefined>)[STREAM_ITEM];
}

const streamPortCache = new WeakMap<object, ReadonlyMap<string, z.ZodType>>();

/** The stream ports of a zod object of ports, by name, with their item schemas (computed once per object). */
export function streamPortsOf(ports: z.ZodObject<Record<string, z.ZodType>>): ReadonlyMap<string, z.ZodType> {
  let found = streamPortCache.get(ports);
  if (found === undefined) {
    const map = new Map<string, z.ZodType>();
    for (const [name, schema] of Object.entries(ports.shape)) {
      const item = streamItemOf(schema);
      if (item !== undefined) map.set(name, item);
    }
    found = map;
    streamPortCache.set(ports, found);
  }
  return found;
}

/** The brand of a {@link StreamCheckpoint}. Registered, so two copies of the sdk agree. */
const CHECKPOINT = Symbol.for("conductor.stream-checkpoint");

/**
 * A point of a stream output from which a retry can go on (docs/streaming.md, "Checkpoints"): yielded by the
 * producer's generator between items, it is not an item. See {@link checkpoint}.
 */
export interface StreamCheckpoint {
  readonly [CHECKPOINT]: true;
  /** What the producer needs to make the items that follow again (a JSON value: a position, a cursor, ...). */
  readonly state: unknown;
}

/** Where a retry of a producer resumes one of its stream outputs: `ctx.resume[port]`. */
export interface StreamResume {
  /** How many items came before the checkpoint: the retry yields items from this one on. */
  readonly offset: number;
  /** The state the producer gave with the checkpoint. */
  readonly state: unknown;
}

/**
 * Marks a checkpoint in a stream output: yield it from the producer's generator after an item, with the state the
 * producer needs to make the items that follow. When the producer then fails mid-stream with a failure its retry
 * policy retries, the retry is given `ctx.resume[port]` (`{ offset, state }`, offset being the number of items
 * before the checkpoint) and must yield the items from that offset on; the host drops those its readers already
 * have, so the readers go on without seeing an item twice and without starting again. Without a checkpoint, a
 * retry restarts the streaming segment from the first item. TypeScript producers (in the host or the Node sidecar).
 *
 * @example
 * run: ({ n }, ctx) => ({
 *   items: (async function* () {
 *     for (let i = (ctx.resume?.items?.state as number | undefined) ?? 0; i < n; i++) {
 *       yield i;
 *       yield checkpoint(i + 1); // a retry starts at i + 1
 *     }
 *   })(),
 * }),
 */
export function checkpoint(state: unknown): StreamCheckpoint {
  return { [CHECKPOINT]: true, state };
}

/** Whether a value a producer yielded is a {@link checkpoint} rather than an item. */
export function isStreamCheckpoint(value: unknown): value is StreamCheckpoint {
  return (
    typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[CHECKPOINT] === true
  );
}

/**
 * The items of a node's stream output, each checked against the port's item schema as it passes, so that a wrong
 * item fails the producer (`output.invalid`, naming the item's position) rather than its consumer.
 */
export async function* checkedItems(
  source: AsyncIterable<unknown>,
  item: z.ZodType,
  label: string,
  port: string,
): AsyncGenerator<unknown, void, undefined> {
  let position = 0;
  for await (const value of source) {
    // A checkpoint passes unchecked: it is not an item (the host takes it out of the stream).
    if (isStreamCheckpoint(value)) {
      yield value;
      continue;
    }
    const parsed = item.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new NodeFailure(
        `${label}: item ${position} of stream output "${port}" is invalid: ${issue?.message ?? "invalid"}${issue !== undefined && issue.path.length > 0 ? ` at ${issue.path.join(".")}` : ""}`,
        { type: "output.invalid" },
      );
    }
    yield parsed.data;
    position++;
  }
}
