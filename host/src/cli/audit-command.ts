import { type CommandContext, EXIT, parseCommandArgs, reportError } from "./command.js";
import { openProjectTenancy } from "./keys-command.js";

/**
 * `conductor audit [list]` prints the audit trail (oldest of the last --limit first); `conductor audit verify`
 * checks its hash chain and exits 1 naming the first entry that was edited, or after which entries were deleted.
 */
export default async function audit(context: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(context, {
    allowPositionals: true,
    options: {
      json: { type: "boolean" },
      project: { type: "string" },
      namespace: { type: "string", short: "n" },
      limit: { type: "string" },
    },
  });
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const action = positionals[0] ?? "list";
  const json = values.json === true;
  if (action !== "list" && action !== "verify") {
    context.stderr.write(`conductor audit: expected list or verify, got "${action}"\n`);
    return EXIT.usage;
  }
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) {
    context.stderr.write(`conductor audit: --limit takes a positive whole number, got "${values.limit}"\n`);
    return EXIT.usage;
  }
  let store: Awaited<ReturnType<typeof openProjectTenancy>>;
  try {
    store = await openProjectTenancy(values.project);
  } catch (error) {
    return reportError(context, error, json);
  }
  try {
    if (action === "verify") {
      const result = store.verifyAudit();
      if (json) context.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else if (result.ok) {
        context.stdout.write(`audit trail intact: ${result.entries} entries, head ${result.head}\n`);
      } else {
        context.stdout.write(
          `audit trail BROKEN at entry ${result.broken!.seq}: ${result.broken!.reason} (${result.entries} entries before it are intact)\n`,
        );
      }
      return result.ok ? EXIT.ok : EXIT.failed;
    }
    const entries = store.listAudit({
      limit,
      ...(values.namespace === undefined ? {} : { namespace: values.namespace }),
    });
    if (json) {
      context.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
      return EXIT.ok;
    }
    if (entries.length === 0) context.stdout.write("the audit trail is empty\n");
    for (const entry of entries) {
      const when = new Date(entry.at).toISOString().replace("T", " ").slice(0, 19);
      context.stdout.write(
        `${String(entry.seq).padStart(6)}  ${when}  ${entry.actor.padEnd(22)} ${entry.namespace.padEnd(12)} ${entry.action.padEnd(16)} ${entry.outcome.padEnd(18)} ${entry.address.padEnd(16)} ${entry.target}${entry.detail === "" ? "" : `  ${entry.detail.slice(0, 160)}`}\n`,
      );
    }
    return EXIT.ok;
  } catch (error) {
    return reportError(context, error, json);
  } finally {
    store.close();
  }
}
