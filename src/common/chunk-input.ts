/**
 * What a chunk workflow is started with, checked as validateInput checks a backfill's request: the
 * worker registers chunkWorkflow, so anyone who can start workflows in the namespace can start one
 * with a request of their own. Pure: the workflow runs it before any activity.
 */
import { toEpochDay } from './dates';
import { InputError } from './input-error';
import { validateInput, type BackfillRequest } from './input';
import { planChunks, type ChunkSpec } from './plan';
import { WORKER_DECIDES } from './spark-conf';
import type { PublicationPlan } from './publication-plan';

export interface CheckedChunkInput {
  request: BackfillRequest;
  chunk: ChunkSpec;
  runId?: string;
}

const RUN_ID = /^[A-Za-z0-9-]{1,64}$/;

/**
 * The chunk workflow's input, every field checked: the request as validateInput has it (sparkConf
 * keys beyond the allow list left to the worker's activities), the publication plan's shape, the
 * chunk one of the request's plan (or one day of it, as bisect.ts runs them) and the run id.
 * `now`: the workflow's time. Throws an InputError naming the field.
 */
export function validateChunkInput(raw: unknown, now: number): CheckedChunkInput {
  const o = record(raw, 'input');
  for (const key of Object.keys(o))
    if (!['request', 'chunk', 'runId'].includes(key)) throw new InputError(key, 'unknown field of a chunk workflow');
  const { publication, ...rest } = record(o.request, 'request');
  const request: BackfillRequest = validateInput(rest, { now, allowSparkConf: WORKER_DECIDES });
  if (publication !== undefined) request.publication = publicationPlan(publication, request.featureGroup);
  const runId = o.runId;
  if (runId !== undefined && (typeof runId !== 'string' || !RUN_ID.test(runId)))
    throw new InputError('runId', `${JSON.stringify(runId)} is not a run id: 1 to 64 letters, digits and -`);
  return { request, chunk: chunkOf(o.chunk, request), runId };
}

function record(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InputError(field, 'expected an object');
  return v as Record<string, unknown>;
}

/** The chunk as the plan has it, or one day of a planned chunk (bisect's children keep its index). */
function chunkOf(raw: unknown, request: BackfillRequest): ChunkSpec {
  const c = record(raw, 'chunk');
  const planned = planChunks(request.startDate, request.endDate, request.chunkSizeDays);
  const parent = typeof c.index === 'number' ? planned[c.index] : undefined;
  const same = (a: ChunkSpec) =>
    c.index === a.index && c.id === a.id && c.startDate === a.startDate && c.endDate === a.endDate && c.days === a.days;
  if (parent && same(parent)) return parent;
  const day = typeof c.startDate === 'string' ? c.startDate : '';
  if (
    parent &&
    toEpochDay(day) !== undefined &&
    day >= parent.startDate &&
    day <= parent.endDate &&
    same({ index: parent.index, id: `${day}_${day}`, startDate: day, endDate: day, days: 1 })
  ) {
    return { index: parent.index, id: `${day}_${day}`, startDate: day, endDate: day, days: 1 };
  }
  throw new InputError('chunk', `${JSON.stringify(raw)} is not a chunk of the request's plan (nor one day of one)`);
}

const STORES = ['offline', 'online', 'both'];
const PUBLISHERS = ['spark', 'api'];
const SOURCES = ['flag', 'ttl', 'default', 'forced'];
/** Where the Spark job may publish: a SageMaker feature group by ARN (the backend's preflight sets it). */
const OFFLINE_STORE = /^sagemaker:arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:feature-group\/([A-Za-z0-9_-]{1,64})$/;

/** The plan the backfill fixed after preflight: only its known fields, each of its type. */
function publicationPlan(raw: unknown, featureGroup: string): PublicationPlan {
  const p = record(raw, 'request.publication');
  const bad = (field: string, what: string) => new InputError(`request.publication.${field}`, what);
  const known = [
    'onlineFrom',
    'horizonDays',
    'horizonSource',
    'forced',
    'offlineWith',
    'offlineWithReason',
    'offlineStore',
  ];
  for (const key of Object.keys(p)) if (!known.includes(key)) throw bad(key, 'unknown field');
  if (p.onlineFrom !== undefined && (typeof p.onlineFrom !== 'string' || toEpochDay(p.onlineFrom) === undefined))
    throw bad('onlineFrom', 'must be a date in YYYY-MM-DD form');
  if (p.horizonDays !== null && !(Number.isInteger(p.horizonDays) && (p.horizonDays as number) >= 0))
    throw bad('horizonDays', 'must be a whole number or null');
  if (!SOURCES.includes(p.horizonSource as string)) throw bad('horizonSource', `must be one of ${SOURCES.join(', ')}`);
  if (p.forced !== undefined && !STORES.includes(p.forced as string))
    throw bad('forced', `must be one of ${STORES.join(', ')}`);
  if (!PUBLISHERS.includes(p.offlineWith as string))
    throw bad('offlineWith', `must be one of ${PUBLISHERS.join(', ')}`);
  if (typeof p.offlineWithReason !== 'string') throw bad('offlineWithReason', 'must be a string');
  if (p.offlineStore !== undefined) {
    const group = typeof p.offlineStore === 'string' ? OFFLINE_STORE.exec(p.offlineStore)?.[1] : undefined;
    // The job publishes there: only to the request's own feature group.
    if (group !== featureGroup) throw bad('offlineStore', `must be sagemaker:<ARN of feature group ${featureGroup}>`);
  }
  return p as unknown as PublicationPlan;
}
