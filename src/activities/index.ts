/**
 * Activities: every piece of I/O the backfill does, one folder per pipeline step (backfill/,
 * spark/, catalog/, ingest/, validate/; the lease activities in ledger/ need a Temporal client
 * and are created beside these). createActivities() only builds the registry from the backends
 * (local/ or aws/), injected; the workflow only sees these functions. Each takes one input object.
 */
import type { Backends } from './backends';
import { createBackfillActivities } from './backfill';
import { createCatalogActivities } from './catalog';
import { createIngestActivities } from './ingest';
import { createSparkActivities } from './spark';
import { createValidateActivities } from './validate';

export function createActivities(backends: Backends) {
  return {
    ...createBackfillActivities(backends),
    ...createSparkActivities(backends),
    ...createCatalogActivities(backends),
    ...createIngestActivities(backends),
    ...createValidateActivities(backends),
  };
}

export type BackfillActivities = ReturnType<typeof createActivities>;
