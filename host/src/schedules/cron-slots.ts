/**
 * The slots of a cron schedule: the instants (milliseconds since the epoch) its expression names in its time zone.
 * The expression is the one BullMQ's job schedulers read (cron-parser), so a schedule fires at the same instants
 * whether one host runs it from its journal or many share it through Redis.
 */
export interface CronSlots {
  /** The first slot strictly after `time`. */
  after(time: number): number;
  /** The last slot strictly before `time`, or undefined when there is none. */
  before(time: number): number | undefined;
}

/** Makes the {@link CronSlots} of an expression in a time zone; throws on an invalid expression. */
export type CronSlotsFactory = (cron: string, timezone: string) => CronSlots;

let factory: Promise<CronSlotsFactory> | undefined;

/**
 * The factory of cron slots. cron-parser (and its date library) is loaded on the first call, because reading a
 * project file is on the path of every command, and only the commands that run or list schedules need it.
 */
export function loadCronSlots(): Promise<CronSlotsFactory> {
  factory ??= import("cron-parser").then((loaded) => (cron, timezone) => {
    // cron-parser is CommonJS: Node's loader gives its named exports, a bundler's interop only `default`.
    const { CronExpressionParser } =
      (loaded as { CronExpressionParser?: unknown }).CronExpressionParser === undefined
        ? (loaded as unknown as { default: typeof loaded }).default
        : loaded;
    const parse = (time: number) =>
      CronExpressionParser.parse(cron, { currentDate: new Date(time), tz: timezone });
    // Computing a slot now fails early for a bad expression, so a schedule never breaks on its first tick.
    parse(Date.now()).next();
    return {
      after: (time) => parse(time).next().getTime(),
      before: (time) => {
        const expression = parse(time);
        return expression.hasPrev() ? expression.prev().getTime() : undefined;
      },
    };
  });
  return factory;
}

/**
 * Why `cron` in `timezone` cannot be a schedule, from its shape (the number of fields, the time zone), or undefined.
 * Checked when the project file is read; the expression itself is checked by {@link cronProblem}.
 */
export function cronShapeProblem(cron: string, timezone: string): string | undefined {
  const fields = cron.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) {
    return `expected 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), got ${fields} in "${cron}"`;
  }
  if (!isTimeZone(timezone)) {
    return `time zone "${timezone}" is not an IANA time zone; expected a name such as "UTC" or "Europe/Paris"`;
  }
  return undefined;
}

/** Why `cron` in `timezone` is not a schedule, or undefined when it is one. */
export async function cronProblem(cron: string, timezone: string): Promise<string | undefined> {
  const shape = cronShapeProblem(cron, timezone);
  if (shape !== undefined) return shape;
  const create = await loadCronSlots();
  try {
    create(cron, timezone);
  } catch (error) {
    return `"${cron}" is not a cron expression: ${(error as Error).message}`;
  }
  return undefined;
}

/** Whether `name` is a time zone this Node knows (IANA names, "UTC"). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
