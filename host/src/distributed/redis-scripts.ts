import { Job, type JobsOptions, type Queue } from "bullmq";
import type { Redis } from "ioredis";

/**
 * Conductor's own Lua scripts, beside BullMQ's: each replaces several round trips of the dispatch path with one
 * command (docs/distributed.md, "Capacity model"). They are sent with EVAL, not EVALSHA, because EVALSHA fails
 * when Redis lost its script cache and the client then sends the script again after the commands that followed
 * it, which would let BullMQ's add run before the dispatch script it must follow.
 */

/** The field of a job's BullMQ hash that names the delivery which started its nodes (see {@link claimStart}). */
export const STARTED_FIELD = "conductorStarted";

/** The field of a placeholder job hash: the earlier job that a scheduler follows instead of adding this one. */
export const SUPERSEDED_FIELD = "conductorSuperseded";

/**
 * KEYS: the execution's job index, its collected set, the BullMQ key of the job to add. ARGV: the job's id, seconds
 * to keep the index, "1" to skip the look-up (the earlier job was not the node's), the node ids of its steps.
 *
 * Looks for an earlier job of the first node that its scheduler did not collect (one that ran while a scheduler
 * was down): if there is one, it is returned and the new job's key is taken by a placeholder, so that BullMQ's
 * add, which follows this script in the same pipeline, finds the id in use and adds nothing. The job's own id is
 * returned when a job of that id exists already (added before the scheduler restarted): the add adds nothing
 * either. Otherwise it records the job as the one of its nodes and returns nil: the add adds it.
 */
const DISPATCH = `local id = ARGV[1]
if ARGV[3] ~= '1' then
  local previous = redis.call('HGET', KEYS[1], ARGV[4])
  if previous and previous ~= id and redis.call('SISMEMBER', KEYS[2], previous) == 0 then
    if redis.call('EXISTS', KEYS[3]) == 0 then
      redis.call('HSET', KEYS[3], '${SUPERSEDED_FIELD}', previous)
      redis.call('EXPIRE', KEYS[3], ARGV[2])
    end
    return previous
  end
elseif redis.call('HEXISTS', KEYS[3], '${SUPERSEDED_FIELD}') == 1 then
  redis.call('DEL', KEYS[3])
end
for i = 4, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], id) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
if ARGV[3] ~= '1' and redis.call('EXISTS', KEYS[3]) == 1 then return id end
return false`;

/** What {@link addJob} needs besides the job: the execution's keys and the job's nodes. */
export interface DispatchKeys {
  jobsKey: string;
  collectedKey: string;
  keepSeconds: number;
  nodes: readonly string[];
  /** Skip the look-up: the earlier job found before cannot be followed, the new one replaces it. */
  replace?: boolean;
}

/**
 * Adds job `id` to `queue` after the dispatch script (above), both in one write on the queue's connection
 * (`redis`, corked until the task's promise continuations ran, so that the dispatches of one task share it): one round trip. Gives the id of a job to follow instead (an earlier one of the node, or one of the same
 * id added before), in which case nothing was added; or null once the job was added. BullMQ's
 * `addJobToTransaction` is the public hook its flow producer uses to batch adds; `Queue.add` goes through it too.
 * The socket is corked around the two commands rather than given an ioredis pipeline, because making a pipeline
 * copies each of BullMQ's scripts onto it, which cost more than the rest of the dispatch.
 */
export async function addJob<Data>(
  redis: Redis,
  queue: Queue<Data>,
  id: string,
  job: { name: string; data: Data; opts: JobsOptions },
  keys: DispatchKeys,
): Promise<string | null> {
  const client = await queue.backend.client;
  const json = new Job(queue, job.name, job.data, { ...job.opts, jobId: id }, id).asJSON();
  corkForThisTask(redis);
  const looked = redis.eval(
    DISPATCH,
    3,
    keys.jobsKey,
    keys.collectedKey,
    `${queue.qualifiedName}:${id}`,
    id,
    keys.keepSeconds,
    keys.replace === true ? "1" : "0",
    ...keys.nodes,
  );
  const added = queue.backend.addJobToTransaction(client, json, id);
  const [earlier] = await Promise.all([looked, added]);
  return typeof earlier === "string" ? earlier : null;
}

/**
 * Holds the writes of `redis` until the promise continuations of the current task have run, so that the commands
 * they send (the dispatch script and BullMQ's add; a job's last live event and its completion, a few promise turns
 * apart; every job whose reply came in the same read) go in one write: each write to a socket is a system call that
 * also wakes Redis, and on a busy machine they cost more than the commands. Not until the turn of the event loop
 * ends: a turn handles every socket that had data, and holding all of their commands until then makes the process
 * and Redis work in turn, each idle while the other works (1.44x the bare BullMQ time per node at 16 nodes in
 * flight, the process idle a third of the time; docs/distributed.md, "Capacity model").
 */
export function corkForThisTask(redis: Redis): void {
  // No socket before the first connection: the commands wait in the client's queue then anyway.
  const socket = redis.stream as typeof redis.stream | undefined;
  if (socket === undefined) return;
  socket.cork();
  // A tick queued by a microtask runs once the microtask queue is empty: after every continuation of this task,
  // whether it was called from a microtask or straight from an I/O callback.
  queueMicrotask(() => process.nextTick(() => socket.uncork()));
}

const CLAIM = `redis.call('HSETNX', KEYS[1], '${STARTED_FIELD}', ARGV[1])
return redis.call('HGET', KEYS[1], '${STARTED_FIELD}')`;

/**
 * Claims the start of a job's nodes for one delivery (`claim`: its worker and the job's lock token), in the job's
 * own hash (`jobKey`), so the claim lives and goes with the job. True if this delivery holds the claim: it set it,
 * or it set it before and the answer was lost (Redis restarted; the client sends the command again once
 * reconnected). False if another delivery started the nodes. Only that claim, not the job's redelivery count, says
 * whether a node may have run: a job moved to active by a command whose answer Redis never sent (killed in between)
 * is re-delivered by the stalled check without any worker having started it.
 */
export async function claimStart(redis: Redis, jobKey: string, claim: string): Promise<boolean> {
  corkForThisTask(redis);
  return (await redis.eval(CLAIM, 1, jobKey, claim)) === claim;
}
