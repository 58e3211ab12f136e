/**
 * The ingest step: the ingestFeatures activity sends a chunk's unpublished gold to the feature
 * store (chunk.ts), resuming where the publication ledger says.
 */
import { Context } from '@temporalio/activity';
import type { IngestResult } from '../../common/results';
import type { Backends } from '../backends';
import { chunkStepInput, type ChunkStepInput } from '../chunk-input';
import { whileHeartbeating } from '../heartbeat';
import { enforceWorkerRules } from '../worker-rules';
import { DEFAULT_INGEST_OPTIONS, ingestChunk } from './chunk';
import type { IngestProgress } from './context';

export function createIngestActivities(deps: Pick<Backends, 'lake' | 'featureStoreFor' | 'ingestOptions'>) {
  return {
    /** Sends the chunk's unpublished gold to the feature store, resuming where the ledger says. */
    async ingestFeatures(input: ChunkStepInput, ...legacy: unknown[]): Promise<IngestResult> {
      const { request, chunk, runId } = chunkStepInput(input, legacy);
      enforceWorkerRules(request);
      const ctx = Context.current();
      let latest: IngestProgress | undefined;
      // Besides the progress after each batch, a steady heartbeat covers long parquet reads and
      // long throttling backoffs, so the server never times out an attempt that is still writing.
      return whileHeartbeating(
        ctx,
        () => latest,
        () =>
          ingestChunk(
            { lake: deps.lake, featureStore: deps.featureStoreFor(request) },
            {
              request,
              chunk,
              runId,
              ctx: {
                heartbeat: (progress) => {
                  latest = progress;
                  ctx.heartbeat(progress);
                },
                sleep: (ms) => ctx.sleep(ms),
                cancellation: ctx.cancellationSignal,
              },
              options: { ...DEFAULT_INGEST_OPTIONS, ...deps.ingestOptions },
            },
          ),
      );
    },
  };
}
