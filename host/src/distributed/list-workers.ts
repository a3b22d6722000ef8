import { connectRedis, describeRedis } from "./redis-connection.js";
import { type ListedWorker, listWorkers } from "./worker-registry.js";

/**
 * The workers registered in Redis at `url` (alive ones, or all of the last hour with `all`), for `conductor
 * workers`, the API and embedders. Fails after `timeoutMs` when Redis does not answer.
 */
export async function listRedisWorkers(
  url: string,
  options: { all?: boolean; timeoutMs?: number } = {},
): Promise<ListedWorker[]> {
  const redis = connectRedis(url, "conductor-list-workers");
  let timer: NodeJS.Timeout | undefined;
  try {
    const listed = await Promise.race([
      listWorkers(redis),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`cannot reach Redis at ${describeRedis(url)}`)),
          options.timeoutMs ?? 5_000,
        );
      }),
    ]);
    return options.all === true ? listed : listed.filter((worker) => worker.alive);
  } finally {
    clearTimeout(timer);
    redis.disconnect();
  }
}
