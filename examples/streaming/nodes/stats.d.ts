/**
 * Reads a stream of Arrow record batches (apache-arrow Tables, one per batch) as they come, and gives the rows,
 * the batches, the sum of the `value` column and the Arrow type of each column.
 */
export declare const batchStats: import("@conductor/sdk").NodeDefinition;
//# sourceMappingURL=stats.d.ts.map
