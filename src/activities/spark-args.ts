/** The arguments of spark_jobs/backfill_features.py for one chunk (the original EMR arguments plus ours). */
import type { BackfillRequest } from '../common/input';
import type { ChunkSpec } from '../common/plan';
import { errorRecordUri, lakeRoot, manifestUri } from './lake-paths';

/** Which run writes the gold, and which days it computes (the others stay as the ledger has them). */
export interface LedgerArgs {
  runId: string;
  computeDates: string[];
}

export function sparkJobArgs(
  request: BackfillRequest,
  chunk: ChunkSpec,
  codeRevision: string,
  ledger?: LedgerArgs,
): string[] {
  return [
    '--bucket',
    lakeRoot(request.bucket),
    '--bronze-prefix',
    request.prefixes.bronze,
    '--silver-prefix',
    request.prefixes.silver,
    '--gold-prefix',
    request.prefixes.gold,
    '--feature-group',
    request.featureGroup,
    '--start-date',
    chunk.startDate,
    '--end-date',
    chunk.endDate,
    '--feature-version',
    request.featureVersion,
    '--chunk-size-days',
    String(chunk.days),
    '--allowed-lateness-days',
    String(request.allowedLatenessDays),
    '--manifest-path',
    manifestUri(request, chunk.id, ledger?.runId),
    '--error-path',
    errorRecordUri(request, chunk.id, ledger?.runId),
    ...(ledger ? ['--run-id', ledger.runId, '--compute-dates', ledger.computeDates.join(',')] : []),
    ...(codeRevision ? ['--code-revision', codeRevision] : []),
    ...(request.overwrite ? ['--overwrite'] : []),
  ];
}
