/**
 * The search attributes a backfill keeps current (Web UI filters, `backfill list`). Shared by the
 * workflow that sets them, the worker's startup check that they are registered, and the CLI.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SEARCH_ATTRIBUTES = {
  featureGroup: defineSearchAttributeKey('BackfillFeatureGroup', SearchAttributeType.KEYWORD),
  featureVersion: defineSearchAttributeKey('BackfillFeatureVersion', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('BackfillStatus', SearchAttributeType.KEYWORD),
  chunksDone: defineSearchAttributeKey('BackfillChunksDone', SearchAttributeType.INT),
  chunksTotal: defineSearchAttributeKey('BackfillChunksTotal', SearchAttributeType.INT),
};
