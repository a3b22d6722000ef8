import { fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { type NodeType, NodeTypeSchema, type RuntimeDescription } from "@conductor/sdk/protocol";
import type { Redis } from "ioredis";
import { runtimeKey, WORKERS_KEY } from "./keys.js";

/** What a worker tells every scheduler about itself, renewed at each heartbeat. */
export interface WorkerInfo {
  id: string;
  hostname: string;
  pid: number;
  labels: string[];
  /** The runtimes it serves (started and serving). */
  runtimes: string[];
  /** Invocations running on it now. */
  inFlight: number;
  /** Invocations it finished since it started. */
  done: number;
  /** `ok`, or `disconnected` while it cannot reach Redis (it takes no work then). */
  state: "ok" | "disconnected" | "stopping";
  startedAt: string;
  /** When it last renewed this record (ISO time). */
  lastHeartbeat: string;
}

/** A worker as listed: its record and whether it is alive (renewed within {@link WORKER_TTL_MS}). */
export interface ListedWorker extends WorkerInfo {
  alive: boolean;
}

/** How often a worker renews its record. */
export const HEARTBEAT_MS = 2_000;
/** A worker whose record is older than this is gone (killed, or cut off from Redis). */
export const WORKER_TTL_MS = 10_000;
/** Records of workers gone this long are removed by whoever lists them. */
const FORGET_MS = 60 * 60_000;

export async function publishWorker(redis: Redis, info: WorkerInfo): Promise<void> {
  await redis.hset(WORKERS_KEY, info.id, JSON.stringify(info));
}

export async function removeWorker(redis: Redis, id: string): Promise<void> {
  await redis.hdel(WORKERS_KEY, id);
}

/** Every worker that registered, alive or gone (gone for an hour: removed). Newest heartbeat first. */
export async function listWorkers(redis: Redis, now = Date.now()): Promise<ListedWorker[]> {
  const entries = await redis.hgetall(WORKERS_KEY);
  const workers: ListedWorker[] = [];
  for (const [id, text] of Object.entries(entries)) {
    let info: WorkerInfo;
    try {
      info = JSON.parse(text) as WorkerInfo;
    } catch {
      await redis.hdel(WORKERS_KEY, id);
      continue;
    }
    const age = now - Date.parse(info.lastHeartbeat);
    if (age > FORGET_MS) {
      await redis.hdel(WORKERS_KEY, id);
      continue;
    }
    workers.push({ ...info, alive: age <= WORKER_TTL_MS && info.state === "ok" });
  }
  return workers.sort((a, b) => Date.parse(b.lastHeartbeat) - Date.parse(a.lastHeartbeat));
}

/** The live workers that take the invocations of `runtime` needing `labels`. */
export function workersFor(
  workers: readonly ListedWorker[],
  runtime: string,
  labels: readonly string[],
): ListedWorker[] {
  return workers.filter(
    (worker) =>
      worker.alive &&
      worker.runtimes.includes(runtime) &&
      labels.every((label) => worker.labels.includes(label)),
  );
}

/** What the workers of one runtime advertise: the runtime's handshake and node types. */
export interface AdvertisedRuntime {
  description: RuntimeDescription;
  nodeTypes: NodeType[];
}

export async function advertiseRuntime(redis: Redis, runtime: AdvertisedRuntime): Promise<void> {
  await redis.set(
    runtimeKey(runtime.description.name),
    JSON.stringify({
      description: runtime.description,
      nodeTypes: runtime.nodeTypes.map((nodeType) => toJson(NodeTypeSchema, nodeType)),
    }),
  );
}

export async function advertisedRuntime(redis: Redis, name: string): Promise<AdvertisedRuntime | undefined> {
  const text = await redis.get(runtimeKey(name));
  if (text === null) return undefined;
  const parsed = JSON.parse(text) as { description: RuntimeDescription; nodeTypes: JsonValue[] };
  return {
    description: parsed.description,
    nodeTypes: parsed.nodeTypes.map((json) => fromJson(NodeTypeSchema, json, { ignoreUnknownFields: true })),
  };
}
