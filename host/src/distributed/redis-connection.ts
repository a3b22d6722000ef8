import { Redis } from "ioredis";
import { ConductorError } from "../errors.js";

/**
 * A connection to Redis for Conductor's distributed mode. It reconnects by itself, forever, with a backoff capped
 * at 2 s, and keeps commands issued while it is down until it is back (`maxRetriesPerRequest: null`, which
 * BullMQ's blocking connections require anyway): a Redis restart delays work, it never fails it.
 */
export function connectRedis(url: string, name: string): Redis {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConductorError(
      "inputs_invalid",
      `the Redis address "${url}" is not a URL; expected redis://host:port (or rediss:// for TLS)`,
    );
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new ConductorError(
      "inputs_invalid",
      `the Redis address "${url}" has scheme "${parsed.protocol}"; expected redis:// or rediss://`,
    );
  }
  return new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(50 * times, 2_000),
    // Because the default is to log every failed reconnect to the console: the owners say it once themselves.
    lazyConnect: false,
  }).on("error", () => {});
}

/** The address of a Redis URL without its password, for messages. */
export function describeRedis(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = "";
    parsed.username = "";
    return parsed.toString();
  } catch {
    return "(an invalid Redis URL)";
  }
}
