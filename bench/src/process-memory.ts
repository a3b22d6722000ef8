import { readFileSync } from "node:fs";

/**
 * A process's memory in KB, from /proc/<pid>/status: its resident set size (`VmRSS`) or the peak of it so far
 * (`VmHWM`). Linux only, as the benchmarks that measure a server's memory are.
 */
export function memoryKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, "m").exec(status);
  if (match === null) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]);
}
