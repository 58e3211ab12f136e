/** Activities that do no I/O, record every call, and can be told to fail: for workflow-logic tests. */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { BackfillActivities } from '../../src/activities';
import type { BackfillOutcome } from '../../src/activities/backends';
import type { AcquireLeaseInput, LeaseActivities, ReleaseLeaseInput } from '../../src/activities/ledger';
import { dateRange } from '../../src/common/dates';
import type { BackfillRequest } from '../../src/common/input';
import type { ChunkSpec } from '../../src/common/plan';
import type { ChunkManifest, IngestResult } from '../../src/common/results';
import type { LeaseConflict } from '../../src/common/lease';
import { enforceWorkerRules } from '../../src/activities/worker-rules';

export interface FakeOptions {
  /**
   * Fail this step ('spark' | 'catalog' | 'ingest' | 'validate') for chunks whose id matches
   * (`chunkId`, or any of a comma-separated list), the first `times` times (every time when unset),
   * with an ApplicationFailure of `type` (default FakeFailure).
   */
  failStep?: { step: string; chunkId: string; message: string; times?: number; type?: string };
  /** Milliseconds each step takes (real time). */
  stepMs?: number;
  rowsPerDay?: number;
  /**
   * While this returns true for a step of a chunk, the step waits (heartbeating): a test holds a
   * backfill running until it has seen what it needs. Read at each look, so a test can flip it.
   */
  holdWhile?: (step: string, chunk: ChunkSpec, request?: BackfillRequest) => boolean;
  /** Per chunk ingestion: this many of the records are refused for good, and the store's pushback. */
  ingest?: { failedRecords?: number; throttled?: number; retries?: number };
  /** Recording a backfill's outcome fails (retryably) every time. */
  outcomeFails?: boolean;
  /** While this returns true, releasing the overlap lease waits (heartbeating): a test holds the backfill ending. */
  holdRelease?: () => boolean;
  /** The fake overlap lease refuses with these conflicts the first `times` asks, then grants. */
  leaseBusy?: { conflicts: LeaseConflict[]; times: number };
}

export function fakeActivities(options: FakeOptions = {}) {
  const calls: { step: string; chunkId: string }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const rows = options.rowsPerDay ?? 10;

  let failures = 0;
  const step = async (name: string, chunk: ChunkSpec | undefined, request?: BackfillRequest) => {
    calls.push({ step: name, chunkId: chunk?.id ?? '-' });
    if (options.stepMs) {
      // Heartbeat while "working", as the real activities do, so cancellation reaches us.
      const until = Date.now() + options.stepMs;
      try {
        while (Date.now() < until) {
          Context.current().heartbeat();
          await Context.current().sleep(Math.min(50, until - Date.now()));
        }
      } catch (err) {
        calls.push({ step: `${name}-cancelled`, chunkId: chunk?.id ?? '-' });
        throw err;
      }
    }
    while (chunk && options.holdWhile?.(name, chunk, request)) {
      Context.current().heartbeat();
      await Context.current().sleep(50);
    }
    const f = options.failStep;
    const matches = f && chunk && f.step === name && f.chunkId.split(',').includes(chunk.id);
    if (f && matches && (f.times === undefined || failures < f.times)) {
      failures += 1;
      throw ApplicationFailure.nonRetryable(f.message, f.type ?? 'FakeFailure');
    }
  };

  const manifest = (request: BackfillRequest, chunk: ChunkSpec): ChunkManifest => {
    const days = dateRange(chunk.startDate, chunk.endDate);
    return {
      feature_group: request.featureGroup,
      feature_version: request.featureVersion,
      feature_definition: { fingerprint: 'fake', description: 'fake' },
      code_revision: 'fake',
      start_date: chunk.startDate,
      end_date: chunk.endDate,
      overwrite: request.overwrite,
      bronze_partitions_read: days,
      coverage_gaps: [],
      missing_context_partitions: [],
      skipped_partitions: [],
      overwritten_partitions: [],
      written_partitions: days,
      input_rows: rows * days.length,
      quarantined_rows: 0,
      quarantined_rows_per_dt: {},
      duplicates_removed: 0,
      output_rows_per_dt: Object.fromEntries(days.map((d) => [d, rows])),
      output_rows: rows * days.length,
      duplicate_event_ids_in_output: 0,
      min_event_time: null,
      max_event_time: null,
      gold_table: 'fake://gold',
      duration_seconds: 0,
      spark_version: 'fake',
    };
  };

  const leaseCalls: (
    (AcquireLeaseInput & { step: 'acquireLease' }) | (ReleaseLeaseInput & { step: 'releaseLease' })
  )[] = [];
  let refusals = 0;
  const lease: LeaseActivities = {
    async acquireLease(input) {
      calls.push({ step: 'acquireLease', chunkId: '-' });
      leaseCalls.push({ ...input, step: 'acquireLease' });
      const busy = options.leaseBusy;
      if (busy && refusals < busy.times) {
        refusals += 1;
        // As the real one waits a slice before answering again (no busy loop in the workflow), heartbeating,
        // so a cancel reaches the waiting ask: without heartbeats a 100 ms ask ended as the cancel came,
        // and the time-skipping server refused the cancel of the ended activity (ACTIVITY_UNKNOWN), for ever.
        if (input.wait)
          for (let i = 0; i < 10; i += 1) {
            Context.current().heartbeat();
            await Context.current().sleep(100);
          }
        return { granted: false, conflicts: busy.conflicts };
      }
      return { granted: true, conflicts: [] };
    },
    async releaseLease(input) {
      calls.push({ step: 'releaseLease', chunkId: '-' });
      leaseCalls.push({ ...input, step: 'releaseLease' });
      while (options.holdRelease?.()) {
        Context.current().heartbeat();
        await Context.current().sleep(50);
      }
      return true;
    },
  };

  const outcomes: BackfillOutcome[] = [];
  const activities: BackfillActivities & LeaseActivities = {
    ...lease,
    async recordBackfillOutcome(outcome) {
      if (options.outcomeFails) throw new Error('metric service unavailable');
      outcomes.push(outcome);
      return true;
    },
    // The real rules: a forged chunk start is refused here as by the worker (not recorded as a step).
    async checkRequest(request) {
      enforceWorkerRules(request);
    },
    async preflight() {
      calls.push({ step: 'preflight', chunkId: '-' });
      return { backend: 'fake' };
    },
    async inspectLake(request) {
      calls.push({ step: 'inspectLake', chunkId: '-' });
      return {
        chunks: [],
        bronzePresent: {},
        bronzeMissing: [request.startDate],
        goldExisting: [],
        wouldSkip: [],
        wouldOverwrite: [],
      };
    },
    async runSparkJob({ request, chunk }) {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        await step('spark', chunk, request);
      } finally {
        inFlight -= 1;
      }
      return { manifest: manifest(request, chunk), jobRunId: `fake-${chunk.id}` };
    },
    async refreshCatalog({ chunk, prune }) {
      await step(prune === false ? 'catalog-no-prune' : 'catalog', chunk);
      return { backend: 'fake', partitions: dateRange(chunk.startDate, chunk.endDate), status: 'SUCCEEDED' };
    },
    async ingestFeatures({ request, chunk }): Promise<IngestResult> {
      await step('ingest', chunk);
      const m = manifest(request, chunk);
      return {
        featureGroup: request.featureGroup,
        ingestedDates: m.written_partitions,
        alreadyIngestedDates: [],
        recordsRead: m.output_rows,
        recordsWritten: m.output_rows - (options.ingest?.failedRecords ?? 0),
        failedRecords: options.ingest?.failedRecords ?? 0,
        batches: 1,
        retries: options.ingest?.retries ?? 0,
        throttled: options.ingest?.throttled ?? 0,
        resumed: false,
      };
    },
    async validateChunk({ chunk }) {
      await step('validate', chunk);
      return { ok: true, checks: [], goldRowsPerDt: {} };
    },
  };
  return { activities, calls, leaseCalls, outcomes, maxInFlight: () => maxInFlight };
}
