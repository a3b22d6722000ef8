/**
 * Per-node heartbeat deadlines: `arm` (re)starts a node's timer whenever it shows a sign of life (started, heartbeat,
 * progress, log, chunk); when a timer runs out the node is considered stuck.
 */
export class HeartbeatWatch {
  private readonly timers = new Map<number, NodeJS.Timeout>();

  /** (Re)starts node `index`'s deadline of `timeoutMs`; 0 means the node has none. */
  arm(index: number, timeoutMs: number, onExpired: (index: number) => void): void {
    if (timeoutMs <= 0) return;
    clearTimeout(this.timers.get(index));
    const timer = setTimeout(() => {
      this.timers.delete(index);
      onExpired(index);
    }, timeoutMs);
    timer.unref();
    this.timers.set(index, timer);
  }

  disarm(index: number): void {
    const timer = this.timers.get(index);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.timers.delete(index);
    }
  }

  clear(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
