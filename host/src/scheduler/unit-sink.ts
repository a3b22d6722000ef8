import type { InvocationControl } from "@conductor/sdk";
import type { FailureInfo, InvocationSink, LogLevel } from "@conductor/sdk/protocol";

/** What a unit's events are delivered to (the execution). */
export interface UnitHost {
  onStarted(index: number): void;
  onLog(index: number, level: LogLevel, message: string, fields: Record<string, unknown> | undefined): void;
  onProgress(index: number, fraction: number, message: string): void;
  onChunk(index: number, port: string, value: unknown): void;
  onHeartbeat(index: number): void;
  onCompleted(index: number, outputs: Record<string, unknown>, durationUs: number, unitEnded: boolean): void;
  onFailed(index: number, failure: FailureInfo, durationUs: number, unit: readonly number[]): void;
  onCancelled(index: number, reason: string, unit: readonly number[]): void;
  forget(unit: UnitSink): void;
}

/** Maps the events of one invocation (a node, or a chain of nodes) to the execution's node indices. */
export class UnitSink implements InvocationSink {
  ended = false;
  control: InvocationControl | undefined;
  /** Called once after the unit's last event was delivered. */
  onEnd: (() => void) | undefined;

  /** `unit`: the node indices of its steps, in order (read by the metrics' gauges at a scrape, too). */
  constructor(
    private readonly host: UnitHost,
    readonly unit: readonly number[],
  ) {}

  /** Whether this unit runs node `index`. */
  runs(index: number): boolean {
    return this.unit.includes(index);
  }

  started(step: number): void {
    this.host.onStarted(this.unit[step]!);
  }

  log(step: number, level: LogLevel, message: string, fields: Record<string, unknown> | undefined): void {
    this.host.onLog(this.unit[step]!, level, message, fields);
  }

  progress(step: number, fraction: number, message: string): void {
    this.host.onProgress(this.unit[step]!, fraction, message);
  }

  chunk(step: number, port: string, value: unknown): void {
    this.host.onChunk(this.unit[step]!, port, value);
  }

  heartbeat(step: number): void {
    this.host.onHeartbeat(this.unit[step]!);
  }

  completed(step: number, outputs: Record<string, unknown>, durationUs: number): void {
    const last = step === this.unit.length - 1;
    if (last) this.end();
    this.host.onCompleted(this.unit[step]!, outputs, durationUs, last);
    if (last) this.onEnd?.();
  }

  failed(step: number, failure: FailureInfo, durationUs: number): void {
    this.end();
    this.host.onFailed(this.unit[step]!, failure, durationUs, this.unit);
    this.onEnd?.();
  }

  cancelled(step: number, reason: string): void {
    this.end();
    this.host.onCancelled(this.unit[step]!, reason, this.unit);
    this.onEnd?.();
  }

  rejected(failure: FailureInfo): void {
    this.end();
    this.host.onFailed(this.unit[0]!, failure, 0, this.unit);
    this.onEnd?.();
  }

  private end(): void {
    this.ended = true;
    this.host.forget(this);
  }
}
