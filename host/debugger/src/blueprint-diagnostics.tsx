import type { Diagnostic } from "@conductor/sdk/client";

/** Why a blueprint does not validate, one problem per line with its path; nothing when it validates. */
export function BlueprintDiagnostics({ diagnostics }: { diagnostics: readonly Diagnostic[] | undefined }) {
  if (diagnostics === undefined || diagnostics.length === 0) return null;
  return (
    <div class="diagnostics">
      <b>This blueprint does not validate:</b>
      <ul>
        {diagnostics.map((d) => (
          <li key={`${d.path}${d.message}`}>
            <code>{d.path || "(blueprint)"}</code>: {d.message}
            {d.suggestion === "" ? "" : `; ${d.suggestion}`}
          </li>
        ))}
      </ul>
    </div>
  );
}
