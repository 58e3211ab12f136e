/**
 * `backfill run --only-stale`: the CLI finds the range's stale days (as `backfill check` does) and
 * starts the backfill for exactly those, as one-day chunks (onlyChunks), overwriting the ones that
 * have gold. The workflow needs nothing new: it runs the chunks it is given by its usual rules.
 */
import { currentFingerprints } from '../../activities/ledger/fingerprint';
import type { BackfillInput, BackfillRequest } from '../../common/input';
import type { CliDeps, Io } from '../io';
import { formatChecks, lakeOf, staleDays } from './check';

/** The input narrowed to the stale days, or undefined (after saying so) when none is stale. */
export async function onlyStaleInput(
  request: BackfillRequest,
  input: BackfillInput,
  io: Io,
  deps: CliDeps,
): Promise<BackfillInput | undefined> {
  const checks = await staleDays(lakeOf(request.bucket, deps), request, currentFingerprints(request.featureVersion));
  const stale = checks.filter((c) => c.stale);
  io.err(formatChecks(request, checks).replace(/\nRebuild them with: .*$/, ''));
  if (stale.length === 0) {
    io.err('--only-stale: nothing to rebuild');
    return undefined;
  }
  if (input.chunkSizeDays !== undefined && input.chunkSizeDays !== 1)
    io.err('notice: --only-stale runs one-day chunks; --chunk-size-days is ignored');
  // Days that have gold (bronze or definition changed) are replaced; never-built days are computed anyway.
  const overwrite = input.overwrite === true || stale.some((c) => !c.reasons.includes('never_built'));
  io.err(
    `--only-stale: ${request.dryRun ? 'would rebuild' : 'rebuilding'} ${stale.map((c) => c.dt).join(', ')}${overwrite ? ' (overwrite)' : ''}`,
  );
  return { ...input, chunkSizeDays: 1, onlyChunks: stale.map((c) => `${c.dt}_${c.dt}`), overwrite };
}
