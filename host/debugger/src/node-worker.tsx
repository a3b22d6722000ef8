import type { LogLine } from "./execution-state.js";

/** The first log line of a node run by a `conductor worker` (docs/distributed.md): `runs on worker <id>`. */
const RUNS_ON = /^runs on worker (\S+)$/;

/** The worker that ran a node's last attempt, from its log; undefined for a node that ran in the host. */
export function workerOf(logs: readonly LogLine[]): string | undefined {
  for (let index = logs.length - 1; index >= 0; index--) {
    const match = RUNS_ON.exec(logs[index]!.message);
    if (match !== null) return match[1];
  }
  return undefined;
}

/** The `worker` fact of a node's details, shown only for a node a worker ran. */
export function NodeWorker({ logs }: { logs: readonly LogLine[] }) {
  const worker = workerOf(logs);
  if (worker === undefined) return null;
  return (
    <>
      <dt>worker</dt>
      <dd data-fact="worker">{worker}</dd>
    </>
  );
}
