import { parseJson } from "@conductor/sdk/client";

/** Formats a duration for a node box or a list: "0.4 ms", "12 ms", "1.52 s", "2 min 3 s". */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return "";
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/**
 * Pretty-prints a `*_json` field; empty stays empty, text that does not parse is shown as it is. Integers beyond
 * 2^53 - 1 keep every digit (read as bigint, written as digits), where JSON.parse would round them.
 */
export function prettyJson(text: string): string {
  if (text === "") return "";
  try {
    return JSON.stringify(parseJson(text), keepBigints, 2);
  } catch {
    return text;
  }
}

function keepBigints(_key: string, value: unknown): unknown {
  return typeof value === "bigint"
    ? (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON(value.toString())
    : value;
}

/** A clock time for lists: "14:03:27". */
export function formatTime(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}
