import type { CheckResult } from "./conformance-check.js";
import type { ConformanceReport } from "./run-conformance.js";

/** How to style a word; the CLI passes `util.styleText` for a terminal, the identity otherwise. */
export type Style = (format: "green" | "red" | "yellow" | "dim" | "bold", text: string) => string;

const plain: Style = (_format, text) => text;

/**
 * One result as the report's line: `pass`, `FAIL` or `skip`, the check's id and what it proves; a failure adds
 * what was expected and what was found on two indented lines, so a runtime's author knows what to change.
 */
export function formatCheckResult(result: CheckResult, style: Style = plain): string {
  const word =
    result.status === "passed"
      ? style("green", "pass")
      : result.status === "failed"
        ? style("red", "FAIL")
        : style("yellow", "skip");
  let text = `${word}  ${result.id}  ${style("dim", result.title)}\n`;
  if (result.status === "failed") {
    text += `        expected: ${result.expected ?? ""}\n        found:    ${result.found ?? ""}\n`;
  } else if (result.status === "skipped") {
    text += `        ${result.found ?? ""}\n`;
  }
  return text;
}

/** The closing line: `N passed, M failed` (and `, K skipped` when some were). */
export function formatSummary(report: ConformanceReport, style: Style = plain): string {
  const counts = `${report.passed} passed, ${report.failed} failed${report.skipped > 0 ? `, ${report.skipped} skipped` : ""}`;
  return `${report.ok ? style("green", counts) : style("red", counts)}\n`;
}
