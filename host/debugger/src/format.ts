/** Formats a duration for a node box or a list: "0.4 ms", "12 ms", "1.52 s", "2 min 3 s". */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return "";
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** Pretty-prints a `*_json` field; empty stays empty, text that does not parse is shown as it is. */
export function prettyJson(text: string): string {
  if (text === "") return "";
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** A clock time for lists: "14:03:27". */
export function formatTime(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}
