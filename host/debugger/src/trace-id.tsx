import type { ConductorClient } from "@conductor/sdk/client";
import { useEffect, useState } from "preact/hooks";

export interface TraceIdProps {
  client: ConductorClient;
  executionId: string;
  /** The execution's status: read again when it changes (a resumed execution starts a new trace). */
  status: string;
}

/**
 * The OpenTelemetry trace id of the execution shown, when the host traced it (docs/telemetry.md), so that its spans
 * can be found in the tracing backend: the same id is on the host's JSON log lines and in `conductor inspect`.
 */
export function TraceId({ client, executionId, status }: TraceIdProps) {
  const [traceId, setTraceId] = useState("");
  useEffect(() => {
    let current = true;
    setTraceId("");
    client
      .getExecution({ executionId })
      .then((response) => {
        if (current) setTraceId(response.execution?.traceId ?? "");
      })
      // The status line shows the execution without it; the debugger's own calls report problems.
      .catch(() => {});
    return () => {
      current = false;
    };
  }, [client, executionId, status]);
  if (traceId === "") return null;
  return (
    <code class="muted trace-id" title="OpenTelemetry trace id of this execution" data-trace-id={traceId}>
      {" "}
      trace {traceId}
    </code>
  );
}
