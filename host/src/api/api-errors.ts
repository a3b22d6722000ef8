import { create } from "@bufbuild/protobuf";
import { DiagnosticsSchema } from "@conductor/sdk/client";
import { Code, ConnectError } from "@connectrpc/connect";
import { ConductorError, type ConductorErrorCode } from "../errors.js";

/** Which Connect/gRPC code each host error becomes at the API boundary. */
const codes: Record<ConductorErrorCode, Code> = {
  blueprint_unreadable: Code.InvalidArgument,
  blueprint_invalid: Code.InvalidArgument,
  project_invalid: Code.FailedPrecondition,
  inputs_invalid: Code.InvalidArgument,
  runtime_start_failed: Code.FailedPrecondition,
  abi_mismatch: Code.FailedPrecondition,
  runtime_broken: Code.Unavailable,
  node_type_unknown: Code.InvalidArgument,
  execution_not_found: Code.NotFound,
  node_not_found: Code.NotFound,
  execution_running: Code.FailedPrecondition,
  execution_finished: Code.FailedPrecondition,
  code_changed: Code.FailedPrecondition,
  journal_required: Code.FailedPrecondition,
  journal_failed: Code.Unavailable,
  closed: Code.Unavailable,
  server_insecure: Code.FailedPrecondition,
  files_exist: Code.AlreadyExists,
  internal: Code.Internal,
};

/**
 * Turns whatever a handler threw into a ConnectError: host errors keep their message, get the matching code and
 * carry their diagnostics as a `conductor.api.v1.Diagnostics` error detail; the host error code travels in the
 * `conductor-error-code` response trailer/header. Anything else is an internal error.
 */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof ConductorError) {
    const details =
      error.diagnostics.length === 0
        ? []
        : [
            {
              desc: DiagnosticsSchema,
              value: create(DiagnosticsSchema, {
                diagnostics: error.diagnostics.map((d) => ({
                  path: d.path,
                  message: d.message,
                  suggestion: d.suggestion ?? "",
                })),
              }),
            },
          ];
    return new ConnectError(
      error.message,
      codes[error.code as ConductorErrorCode] ?? Code.Internal,
      { "conductor-error-code": error.code },
      details,
      error,
    );
  }
  return new ConnectError(
    `internal error in the host: ${(error as Error)?.message ?? String(error)}`,
    Code.Internal,
    undefined,
    undefined,
    error,
  );
}

/** Runs a handler body, converting what it throws with {@link toConnectError}. */
export async function mapErrors<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw toConnectError(error);
  }
}
