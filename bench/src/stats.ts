/** Summary statistics of a list of samples. */
export interface Summary {
  median: number;
  p99: number;
  mean: number;
  samples: number;
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return {
    median: at(0.5),
    p99: at(0.99),
    mean: sorted.reduce((sum, x) => sum + x, 0) / Math.max(1, sorted.length),
    samples: sorted.length,
  };
}

/** Times `iterations` sequential runs of an async operation after `warmup` runs; gives microseconds per run. */
export async function timeSequential(
  operation: () => Promise<unknown>,
  options: { warmup: number; iterations: number },
): Promise<Summary> {
  for (let i = 0; i < options.warmup; i++) await operation();
  const samples = new Array<number>(options.iterations);
  for (let i = 0; i < options.iterations; i++) {
    const started = performance.now();
    await operation();
    samples[i] = (performance.now() - started) * 1000;
  }
  return summarize(samples);
}
