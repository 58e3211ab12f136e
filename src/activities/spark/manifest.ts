/**
 * The chunk's Spark outcome as the ledger has it (not as the job's manifest says): what this run
 * committed, what it kept, and which days it rebuilt from another definition.
 */
import type { BackfillRequest } from '../../common/input';
import type { ChunkSpec } from '../../common/plan';
import type { ChunkManifest } from '../../common/results';
import { commitFingerprint } from '../ledger/definition-guard';
import { hasGold } from '../ledger/day-states';
import { currentFingerprints } from '../ledger/fingerprint';
import type { DayState } from '../ledger/records';

/** Days about to be rebuilt whose gold came from another definition (the report names them). */
export function replacedDefinitions(
  before: DayState[],
  computeDates: string[],
  version: string,
): ChunkManifest['accepted_definition_change'] {
  const current = currentFingerprints(version);
  const replaced: Record<string, string> = {};
  for (const s of before) {
    const old = s.commit && commitFingerprint(s.commit, current);
    if (old && old !== current.build && computeDates.includes(s.dt)) replaced[s.dt] = old;
  }
  return { fingerprint: current.build, replaced };
}

/**
 * Days whose current gold this run committed are credited to it (in this attempt or an earlier
 * one, e.g. before a server restart), other gold is reported as kept.
 */
export function creditedManifest(o: {
  request: BackfillRequest;
  chunk: ChunkSpec;
  runId: string;
  job?: ChunkManifest;
  states: DayState[];
}): ChunkManifest {
  const base = o.job ?? emptyManifest(o.request, o.chunk);
  const mine = o.states.filter((s) => s.commit?.run_id === o.runId);
  const rows = Object.fromEntries(mine.map((s) => [s.dt, s.commit!.rows]));
  return {
    ...base,
    written_partitions: mine.filter((s) => s.commit!.rows > 0).map((s) => s.dt),
    output_rows_per_dt: rows,
    output_rows: Object.values(rows).reduce((a, b) => a + b, 0),
    skipped_partitions: o.states
      .filter((s) => s.commit?.run_id !== o.runId && hasGold(s) && !base.coverage_gaps.includes(s.dt))
      .map((s) => s.dt),
  };
}

/** The manifest of a chunk no job ran for (every day already in gold). */
function emptyManifest(request: BackfillRequest, chunk: ChunkSpec): ChunkManifest {
  return {
    feature_group: request.featureGroup,
    feature_version: request.featureVersion,
    feature_definition: { fingerprint: '', description: '' },
    code_revision: '',
    start_date: chunk.startDate,
    end_date: chunk.endDate,
    overwrite: request.overwrite,
    bronze_partitions_read: [],
    coverage_gaps: [],
    missing_context_partitions: [],
    skipped_partitions: [],
    overwritten_partitions: [],
    written_partitions: [],
    input_rows: 0,
    quarantined_rows: 0,
    quarantined_rows_per_dt: {},
    duplicates_removed: 0,
    output_rows_per_dt: {},
    output_rows: 0,
    duplicate_event_ids_in_output: 0,
    min_event_time: null,
    max_event_time: null,
    gold_table: '',
    duration_seconds: 0,
    spark_version: '',
  };
}
