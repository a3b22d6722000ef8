/**
 * The host's one error class. `code` is a closed set: callers branch on it, people read `message`, which names
 * the blueprint path, node, runtime or field, says what was expected and what was found, and who should act.
 */
export type ConductorErrorCode =
  /** The blueprint or project file cannot be read or parsed. */
  | "blueprint_unreadable"
  /** The blueprint parsed but does not validate; `diagnostics` lists every problem. */
  | "blueprint_invalid"
  /** The project file (conductor.yaml) is invalid. */
  | "project_invalid"
  /** Inputs given to a run do not match the blueprint's inputs. */
  | "inputs_invalid"
  /** A runtime could not be started (bad handshake, exit on start, timeout, missing interpreter or build). */
  | "runtime_start_failed"
  /** A runtime speaks an ABI version the host does not. */
  | "abi_mismatch"
  /** A runtime crashed too often and is no longer restarted. */
  | "runtime_broken"
  /** No runtime serves a node type. */
  | "node_type_unknown"
  /** A server was given options it cannot serve safely or at all, e.g. a CORS origin that is not one. */
  | "server_insecure"
  /** An execution id is unknown. */
  | "execution_not_found"
  /** A request names a node its blueprint does not have (e.g. `rerun --from`). */
  | "node_not_found"
  /**
   * An execution cannot be resumed: another process runs it (its owner is alive), or it is a sub-blueprint's
   * execution, which goes on only with its parent.
   */
  | "execution_running"
  /** An execution cannot be resumed: it already finished. */
  | "execution_finished"
  /**
   * An execution of a deployed version cannot be resumed: the code of its nodes changed since the version was
   * deployed (resume it with `--allow-code-change` to run the code there is now).
   */
  | "code_changed"
  /** Resuming or re-running needs a journal, and this conductor records to memory. */
  | "journal_required"
  /** The journal cannot be opened, read or written (permissions, a full disk, a damaged file). */
  | "journal_failed"
  /** The conductor was closed. */
  | "closed"
  /** `conductor init` or `conductor new` would overwrite files (pass --force to overwrite them). */
  | "files_exist"
  /** A bug or an unexpected state in the host itself; never a user's mistake (those have their own codes). */
  | "internal";

/** One problem found while validating, with the path it is about, e.g. `nodes.stats.inputs.table`. */
export interface Diagnostic {
  path: string;
  message: string;
  /** A fix to try, e.g. `did you mean "core.csv-parse"?` */
  suggestion?: string;
}

/** Thrown by the host for problems that are not node failures (node failures are data: `FailureInfo`). */
export class ConductorError extends Error {
  override readonly name = "ConductorError";

  constructor(
    readonly code: ConductorErrorCode,
    message: string,
    options: { cause?: unknown; diagnostics?: Diagnostic[] } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.diagnostics = options.diagnostics ?? [];
  }

  readonly diagnostics: Diagnostic[];

  /** Works across duplicate copies of this package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof Error && value.name === "ConductorError" && "code" in value;
  }
}

/** Formats diagnostics as lines: `nodes.stats.inputs.table: ... (did you mean ...?)`. */
export function formatDiagnostics(diagnostics: readonly Diagnostic[]): string {
  return diagnostics
    .map(
      (d) =>
        `  ${d.path === "" ? "(blueprint)" : d.path}: ${d.message}${d.suggestion ? `; ${d.suggestion}` : ""}`,
    )
    .join("\n");
}
