import { mkdtemp, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { STATE_DIR } from "../project/project-access.js";
import { ensurePrivateDirectory } from "../store/private-files.js";
import { sweepStaleDirectories } from "./stale-directories.js";

/** Options of {@link createBlobDirectory}. */
export interface BlobDirectoryOptions {
  /** The project directory: blobs go under its `.conductor/tmp/`, on the project's disk rather than in memory. */
  projectDir: string;
}

/** The directory where a host and its runtimes put the blobs of one host process. */
export interface BlobDirectory {
  readonly path: string;
  /** Removes the directory and every blob in it. */
  remove(): Promise<void>;
}

/**
 * Creates the blob directory of this host process, private to its user (0700), and first removes the ones whose
 * host died without removing its own (a SIGKILL, a crash, a power cut), so that they do not outlive their host by
 * more than the next start. Each directory is named by the machine and the process id of its host
 * (`blobs-<machine>-<pid>-<random>`): one whose process is gone on this machine is left over; a directory of another
 * machine sharing the project (a network disk, a container's volume) is never touched, because its process cannot
 * be seen from here.
 *
 * The directory is under the project's `.conductor/tmp/`; when the project cannot be written it is in the system's
 * temporary directory, named and swept the same way.
 */
export async function createBlobDirectory(options: BlobDirectoryOptions): Promise<BlobDirectory> {
  const machine = hostname().replace(/[^A-Za-z0-9.]/g, "_");
  let parent = join(options.projectDir, STATE_DIR, "tmp");
  let prefix = `blobs-${machine}-`;
  try {
    ensurePrivateDirectory(parent);
  } catch {
    parent = tmpdir();
    prefix = `conductor-blobs-${machine}-`;
  }
  await sweepStaleDirectories(parent, prefix);
  // mkdtemp creates the directory with mode 0700.
  const path = await mkdtemp(join(parent, `${prefix}${process.pid}-`));
  return {
    path,
    remove: () => rm(path, { recursive: true, force: true }),
  };
}
