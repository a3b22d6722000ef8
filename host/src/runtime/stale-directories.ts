import { lstat, readdir, rm } from "node:fs/promises";
import { join } from "node:path";

/**
 * Removes the directories under `parent` named `<prefix><pid>-…` whose process is gone and that this user owns:
 * what a host left behind when it was SIGKILLed or crashed (its blob directory, its runtimes' socket directories).
 *
 * Safe by construction, because the directories it may remove are only those that
 * - are named with this prefix and a process id (nothing else in `parent` is looked at),
 * - are real directories, not links (a link planted by another user leads nowhere),
 * - belong to this user (a shared `/tmp` holds other users' directories too),
 * - name a process that is gone on this machine (a live one, this process included, keeps its directory; a process
 *   that exists but belongs to another user counts as live).
 * The prefix should name the machine when `parent` may be shared between machines (a network disk), because a
 * process id means nothing on another machine. Best effort: what cannot be removed now is tried at the next start.
 *
 * @returns the names it removed.
 */
export async function sweepStaleDirectories(parent: string, prefix: string): Promise<string[]> {
  const names = await readdir(parent).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || isProcessAlive(pid)) continue;
    const path = join(parent, name);
    const info = await lstat(path).catch(() => undefined);
    if (info === undefined || !info.isDirectory()) continue;
    if (process.getuid !== undefined && info.uid !== process.getuid()) continue;
    try {
      await rm(path, { recursive: true, force: true });
      removed.push(name);
    } catch {
      // Tried again at the next start.
    }
  }
  return removed;
}

/** Whether a process with this id exists on this machine (EPERM: it exists but belongs to another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
