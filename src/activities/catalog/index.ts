/**
 * The catalog step: the refreshCatalog activity makes a chunk's gold visible to readers (the
 * backend's Catalog), then deletes the earlier runs' gold files readers no longer use.
 */
import { Context } from '@temporalio/activity';
import { dateRange } from '../../common/dates';
import type { CatalogResult } from '../../common/results';
import type { Backends } from '../backends';
import { chunkStepInput, type ChunkStepInput } from '../chunk-input';
import { whileHeartbeating } from '../heartbeat';
import { goldTable } from '../lake-paths';
import { readStates } from '../ledger/day-states';
import { staleRunFiles } from '../ledger/records';
import { enforceWorkerRules } from '../worker-rules';

export interface RefreshCatalogInput extends ChunkStepInput {
  /**
   * Delete earlier runs' gold files once the catalog serves the current gold. The refresh of a
   * cancelled chunk passes false: its Spark run may still be writing a run directory the ledger
   * does not name yet.
   * @default true
   */
  prune?: boolean;
}

export function createCatalogActivities({ lake, catalog }: Pick<Backends, 'lake' | 'catalog'>) {
  return {
    async refreshCatalog(input: RefreshCatalogInput, ...legacy: unknown[]): Promise<CatalogResult> {
      const { request, chunk } = chunkStepInput(input, legacy);
      enforceWorkerRules(request);
      // A crawler run takes minutes: heartbeat meanwhile, so a lost worker is noticed and a
      // cancellation is answered (the crawl itself finishes on its own; it only reads).
      const ctx = Context.current();
      const result = await whileHeartbeating(
        ctx,
        () => undefined,
        () => Promise.race([catalog.refresh(request, chunk, goldTable(request)), ctx.cancelled]),
      );
      if (input.prune === false) return result;
      // Readers now use the current gold: earlier runs' files (but the one before, for rollback) can go.
      // A crawler would serve a rollback copy as a second run of the day, so under one none is kept.
      const keepPrevious = !catalog.readsEveryDirectory;
      for (const state of await readStates(lake, request, dateRange(chunk.startDate, chunk.endDate))) {
        await lake.delete(await staleRunFiles(lake, request, state, { keepPrevious }));
      }
      return result;
    },
  };
}
