/**
 * The processor of the bare BullMQ floor with sandboxed processors (bench/src/scenarios/distributed.ts): BullMQ runs
 * it in child processes of the consumer, its own way of isolating a processor from its worker, as Conductor's
 * worker isolates Node nodes in its sidecar. The same work as the in-process floor's processor.
 */
export default async function increment(job: { data: { x: number } }): Promise<{ x: number }> {
  return { x: job.data.x + 1 };
}
