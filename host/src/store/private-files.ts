import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  linkSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";

/** Mode of files only their owner may read and write. */
export const PRIVATE_FILE_MODE = 0o600;
/** Mode of directories only their owner may enter. */
export const PRIVATE_DIRECTORY_MODE = 0o700;

/**
 * Creates a directory, with its missing parents, that only this user may enter; an existing one that others may
 * enter is made private. Use it for directories holding execution values or secrets (blobs, the state directory).
 */
export function ensurePrivateDirectory(path: string): void {
  mkdirSync(path, { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
  tightenMode(path, PRIVATE_DIRECTORY_MODE);
}

/**
 * Creates an empty file only this user may read and write, or makes an existing one so. Use it before another
 * library creates the file with the process's umask (SQLite gives its -wal and -shm files the database's mode).
 */
export function ensurePrivateFile(path: string): void {
  // An existing file is not opened: closing a descriptor of a file drops every POSIX lock this process holds on
  // it, so opening and closing a SQLite database (or its -shm) that another connection of this process has open
  // would take that connection's locks away (and SQLite then reports a disk I/O error).
  if (!existsSync(path)) closeSync(openSync(path, "a", PRIVATE_FILE_MODE));
  tightenMode(path, PRIVATE_FILE_MODE);
}

/**
 * Writes a file only this user may read and write so that it appears whole: written under a name of its own, then
 * linked (`exclusive`: only when no file has the name yet) or renamed into place. Gives whether it was written; an
 * exclusive write finds the file of another process that got there first. Use it for files other processes may read
 * or create at the same time (a project's API token and secret keys, made by servers starting together): a reader
 * never sees the file empty or half written.
 */
export function writePrivateFileWhole(path: string, text: string, options: { exclusive: boolean }): boolean {
  const draft = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(draft, text, { flag: "wx", mode: PRIVATE_FILE_MODE });
  try {
    if (!options.exclusive) {
      renameSync(draft, path);
      return true;
    }
    try {
      linkSync(draft, path);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    }
  } finally {
    rmSync(draft, { force: true });
  }
}

/**
 * Removes the group's and others' permissions from an existing file or directory this user owns; gives whether it
 * changed anything. A path that is missing, or owned by someone else (who alone may change it), is left alone.
 */
export function tightenMode(path: string, mode: number): boolean {
  let info: ReturnType<typeof statSync>;
  try {
    info = statSync(path);
  } catch {
    return false;
  }
  // Because only the owner (or root) may chmod, and a file of another user is that user's to protect.
  const mine = process.getuid === undefined || info.uid === process.getuid();
  if (!mine || (Number(info.mode) & 0o077) === 0) return false;
  chmodSync(path, mode);
  return true;
}
