import { listRedisWorkers } from "../distributed/list-workers.js";
import { describeRedis } from "../distributed/redis-connection.js";
import { type CommandContext, EXIT, parseCommandArgs, reportError } from "./command.js";

/** `conductor workers`: the workers connected to Redis, with their labels, runtimes, work in flight and heartbeat. */
export default async function workers(context: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(context, {
    options: { redis: { type: "string" }, json: { type: "boolean" }, all: { type: "boolean" } },
  });
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  const url = values.redis ?? process.env.CONDUCTOR_REDIS;
  if (url === undefined || url === "") {
    context.stderr.write("conductor workers: --redis <url> (or CONDUCTOR_REDIS) is required\n");
    return EXIT.usage;
  }
  try {
    // A command run by hand does not wait for Redis forever.
    const shown = await listRedisWorkers(url, { all: values.all === true });
    if (values.json === true) {
      context.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
      return EXIT.ok;
    }
    if (shown.length === 0) {
      context.stdout.write(`no worker is connected to Redis at ${describeRedis(url)}\n`);
      return EXIT.ok;
    }
    const now = Date.now();
    for (const worker of shown) {
      const age = Math.max(0, Math.round((now - Date.parse(worker.lastHeartbeat)) / 1000));
      context.stdout.write(
        `${worker.id}  ${worker.alive ? worker.state : "gone"}  runtimes: ${worker.runtimes.join(",")}  labels: ${worker.labels.join(",") || "-"}  in flight: ${worker.inFlight}  done: ${worker.done}  heartbeat: ${age}s ago\n`,
      );
    }
    return EXIT.ok;
  } catch (error) {
    return reportError(context, error, values.json === true);
  }
}
