import { NodeFailure } from "@conductor/sdk";

/**
 * Turns an error of a file operation into a {@link NodeFailure} that names the path and says whether a retry may
 * help: a missing file, a directory or a permission problem stays so on retry; other I/O errors (too many open
 * files, a busy device) may pass. An abort is given back unchanged, so the runtime reports a cancellation.
 */
export function fileFailure(error: unknown, action: "read" | "write", path: string): unknown {
  if (!(error instanceof Error) || error.name === "AbortError") return error;
  const code = (error as NodeJS.ErrnoException).code;
  const details = { path, code };
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
      return new NodeFailure(`cannot ${action} "${path}": no such file or directory`, {
        type: "file.not-found",
        details,
        cause: error,
      });
    case "EISDIR":
      return new NodeFailure(`cannot ${action} "${path}": it is a directory, expected a file`, {
        type: "file.is-directory",
        details,
        cause: error,
      });
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return new NodeFailure(`cannot ${action} "${path}": permission denied`, {
        type: "file.permission-denied",
        details,
        cause: error,
      });
    default:
      return new NodeFailure(`cannot ${action} "${path}": ${error.message}`, {
        type: "file.io",
        retryable: true,
        details,
        cause: error,
      });
  }
}
