import type { Conductor } from "../conductor.js";
import { ConductorError } from "../errors.js";
import { DEFAULT_LEASE_TTL_MS } from "../store/execution-leases.js";

/** Options of {@link startOrphanAdopter}. */
export interface OrphanAdopterOptions {
  conductor: Conductor;
  /** How often to look again for orphans after the first look. Default: a third of the default lease (10 s). */
  intervalMs?: number;
  /** Told of each execution adopted (resumed here). */
  onAdopted?: (executionId: string, blueprintId: string) => void;
  /** Told of an orphan that could not be resumed (its blueprint no longer validates, say); it is not tried again. */
  onError?: (executionId: string, error: Error) => void;
}

/** A running {@link startOrphanAdopter}. */
export interface OrphanAdopter {
  /** Resolves with the number of executions adopted by the first look. */
  readonly first: Promise<number>;
  stop(): void;
}

/**
 * Adopts orphaned executions for a long-running host (`conductor serve`): an execution the journal records as
 * running whose owner died or stopped renewing its lease is resumed here, at once and then whenever one turns up
 * (a `conductor run` killed in another terminal, a server that crashed). Claims are exclusive, so several servers
 * on one journal never resume the same execution twice; an orphan another one took first is left to it.
 * Sub-blueprints' executions are resumed through their parents, never on their own.
 */
export function startOrphanAdopter(options: OrphanAdopterOptions): OrphanAdopter {
  const { conductor } = options;
  const intervalMs = options.intervalMs ?? DEFAULT_LEASE_TTL_MS / 3;
  /** Orphans that failed to resume: reported once, not tried again by this process. */
  const failed = new Set<string>();
  let stopped = false;
  let looking: Promise<number> | undefined;

  const look = async (): Promise<number> => {
    let adopted = 0;
    for (const orphan of conductor.executions.list({ orphaned: true, limit: 1_000 })) {
      if (stopped) break;
      if (orphan.lineage?.parentId !== undefined || failed.has(orphan.executionId)) continue;
      try {
        await conductor.resume(orphan.executionId);
        adopted++;
        options.onAdopted?.(orphan.executionId, orphan.blueprintId);
      } catch (error) {
        // Another process adopted it first, or it ended meanwhile: nothing to do.
        if (
          error instanceof ConductorError &&
          (error.code === "execution_running" || error.code === "execution_finished")
        )
          continue;
        failed.add(orphan.executionId);
        options.onError?.(orphan.executionId, error as Error);
      }
    }
    return adopted;
  };

  const first = look().finally(() => {
    looking = undefined;
  });
  looking = first;
  const timer = setInterval(() => {
    if (looking !== undefined || stopped) return;
    looking = look()
      .catch(() => 0)
      .finally(() => {
        looking = undefined;
      });
  }, intervalMs);
  timer.unref();
  return {
    first,
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
