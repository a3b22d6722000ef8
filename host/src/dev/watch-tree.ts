import { type FSWatcher, watch } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";

/** Options of {@link watchTree}. */
export interface WatchTreeOptions {
  /** Directory names never entered (node_modules, build output...). */
  ignore: ReadonlySet<string>;
  /** Receives the changed files of a burst of changes, once the tree has been quiet for `debounceMs`. */
  onChange: (paths: string[]) => void;
  /** Default 40 ms: an editor's save (write, rename, chmod) arrives as one batch. */
  debounceMs?: number;
  onError?: (error: Error) => void;
}

/** A running watch; {@link WatchTree.ready} resolves once every directory is watched. */
export interface WatchTree {
  readonly ready: Promise<void>;
  close(): void;
}

/**
 * Watches a directory tree for changed files with one `fs.watch` per directory, skipping the ignored ones. Because
 * Node's recursive watch on Linux walks every directory, node_modules included (tens of thousands in a real
 * project), it is not used. A directory created later is watched from when it appears; symbolic links are not
 * followed.
 */
export function watchTree(root: string, options: WatchTreeOptions): WatchTree {
  const watchers = new Map<string, FSWatcher>();
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const debounceMs = options.debounceMs ?? 40;

  const flush = () => {
    timer = undefined;
    if (closed || pending.size === 0) return;
    const paths = [...pending];
    pending.clear();
    options.onChange(paths);
  };

  const add = async (dir: string): Promise<void> => {
    if (closed || watchers.has(dir)) return;
    try {
      const watcher = watch(dir, { persistent: false }, (eventType, filename) => {
        if (filename === null || closed) return;
        const path = join(dir, filename.toString());
        // A new directory (or one renamed in) is watched too; a file is reported.
        if (eventType === "rename" && !options.ignore.has(filename.toString())) {
          void lstat(path)
            .then((stats) => (stats.isDirectory() ? add(path) : undefined))
            .catch(() => {});
        }
        pending.add(path);
        clearTimeout(timer);
        timer = setTimeout(flush, debounceMs);
      });
      watcher.on("error", () => {
        watcher.close();
        watchers.delete(dir);
      });
      watchers.set(dir, watcher);
    } catch (error) {
      // Already gone: nothing to watch.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") options.onError?.(error as Error);
      return;
    }
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    await Promise.all(
      entries
        .filter((entry) => entry.isDirectory() && !options.ignore.has(entry.name))
        .map((entry) => add(join(dir, entry.name))),
    );
  };

  const ready = add(root);
  return {
    ready,
    close() {
      closed = true;
      clearTimeout(timer);
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}
