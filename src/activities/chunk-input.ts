/**
 * The one input object of a chunk's steps, and the shim for the positional inputs of steps
 * scheduled before one-object inputs: recorded histories (test/histories/2026-11-25-*) carry
 * `refreshCatalog(request, chunk)` and `ingestFeatures(request, chunk, manifest)`.
 */
import type { BackfillRequest } from '../common/input';
import type { ChunkSpec } from '../common/plan';

export interface ChunkStepInput {
  request: BackfillRequest;
  chunk: ChunkSpec;
  /** The backfill run (ledger id); ingestion credits what this run published in earlier attempts. */
  runId?: string;
}

/** The step's input, whether it came as one object or positionally as (request, chunk, ...). */
export function chunkStepInput(input: ChunkStepInput, legacy: unknown[]): ChunkStepInput {
  return 'request' in input ? input : { request: input as BackfillRequest, chunk: legacy[0] as ChunkSpec };
}
