/** The arguments of spark_jobs/backfill_features.py for one chunk (the original EMR arguments plus ours). */
import type { BackfillRequest } from '../../common/input';
import type { ChunkSpec } from '../../common/plan';
import { errorRecordUri, lakeRoot, manifestUri } from '../lake-paths';

/** Which run writes the gold, and which days it computes (the others stay as the ledger has them). */
export interface LedgerArgs {
  runId: string;
  computeDates: string[];
}

export interface SparkJobArgsInput {
  request: BackfillRequest;
  chunk: ChunkSpec;
  /** The job code's revision, recorded in the manifest; '' leaves it out. */
  codeRevision: string;
  /** Absent: the job decides per day from the gold it finds (a run outside the workflow). */
  ledger?: LedgerArgs;
  /**
   * The job walks the chunk in sub-chunks of this many days. With more than one sub-chunk each
   * writes its own manifest (manifestUri of the sub-chunk's id), so no --manifest-path is given.
   * @default chunk.days (one pass, one manifest)
   */
  subChunkDays?: number;
}

export function sparkJobArgs({ request, chunk, codeRevision, ledger, subChunkDays }: SparkJobArgsInput): string[] {
  const stepDays = subChunkDays ?? chunk.days;
  const oneManifest = Math.ceil(chunk.days / stepDays) <= 1;
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
    String(stepDays),
    '--allowed-lateness-days',
    String(request.allowedLatenessDays),
    ...(oneManifest ? ['--manifest-path', manifestUri(request, chunk.id, ledger?.runId)] : []),
    '--error-path',
    errorRecordUri(request, chunk.id, ledger?.runId),
    ...(ledger ? ['--run-id', ledger.runId, '--compute-dates', ledger.computeDates.join(',')] : []),
    ...(codeRevision ? ['--code-revision', codeRevision] : []),
    ...(request.overwrite ? ['--overwrite'] : []),
  ];
}
