/**
 * The backfill's own activities, around its chunks: preflight (the request against this worker
 * and the backend), the worker's check of a chunk's request, the dry run, and the outcome record.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { FAILURE } from '../../common/failures';
import { InputError, type BackfillRequest } from '../../common/input';
import type { DryRunPlan } from '../../common/results';
import type { BackfillOutcome, Backends, PreflightResult } from '../backends';
import { guardDefinitionChange } from '../ledger/definition-guard';
import { currentFingerprints } from '../ledger/fingerprint';
import { enforceWorkerRules } from '../worker-rules';
import { inspectLake } from './dry-run';
import { namespaceSearchAttributeProblem } from './search-attributes';

/** What the backfill's activities use of the worker's backends. */
export type BackfillStepDeps = Pick<
  Backends,
  'name' | 'lake' | 'sparkSizes' | 'preflight' | 'outcome' | 'searchAttributes'
>;

export function createBackfillActivities(backends: BackfillStepDeps) {
  return {
    async preflight(request: BackfillRequest): Promise<{ backend: string } & PreflightResult> {
      await checkNamespace(backends);
      // The checks that need this worker's settings (sparkConf beyond the allow list, job roles).
      enforceWorkerRules(request);
      await checkDefinition(backends, request);
      const resolved = await backends.preflight?.(request);
      return { backend: backends.name, ...resolved };
    },

    /** The worker's rules (sparkConf, job role, lake prefixes) for a request a chunk workflow was started with. */
    async checkRequest(request: BackfillRequest): Promise<void> {
      enforceWorkerRules(request);
    },

    /** Dry run: what a backfill would read, write and send, from the same ledger rules as a real run. */
    async inspectLake(request: BackfillRequest): Promise<DryRunPlan> {
      enforceWorkerRules(request);
      return inspectLake(backends, request);
    },

    /** Records how a backfill ended where the backend's alarms read it; false when the backend has no such place. */
    async recordBackfillOutcome(outcome: BackfillOutcome): Promise<boolean> {
      if (!backends.outcome) return false;
      await backends.outcome.record(outcome);
      return true;
    },
  };
}

/** Before the workflow's first upsertSearchAttributes, which would otherwise hang the backfill. */
async function checkNamespace({ searchAttributes }: BackfillStepDeps): Promise<void> {
  if (!searchAttributes) return;
  const { info, log } = Context.current();
  const problem = await namespaceSearchAttributeProblem(searchAttributes, info.namespace, (m) => log.warn(m));
  if (problem) throw ApplicationFailure.nonRetryable(problem, FAILURE.invalidInput);
}

/** One definition and transform code per version's gold (docs/design.md, "Lineage and staleness"). */
async function checkDefinition({ lake }: BackfillStepDeps, request: BackfillRequest): Promise<void> {
  try {
    const change = await guardDefinitionChange(lake, request, currentFingerprints(request.featureVersion));
    if (change) Context.current().log.warn('definition change accepted', { ...change });
  } catch (err) {
    if (err instanceof InputError) throw ApplicationFailure.nonRetryable(err.message, FAILURE.invalidInput);
    throw err;
  }
}
