/** Requests, chunks and small helpers shared by the AWS tests. */
import { ApplicationFailure } from '@temporalio/common';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { validateInput, type BackfillInput, type BackfillRequest } from '../../src/common/input';
import { planChunks, type ChunkSpec } from '../../src/common/plan';
import { ACCOUNT } from './moto';

/** One gold partition file as Spark writes it: 120 rows (see fixtures/make_gold_fixture.py). */
export const GOLD_FIXTURE = path.join(__dirname, 'fixtures', 'gold-sample.parquet');

export const JOB_ROLE = `arn:aws:iam::${ACCOUNT}:role/EMRJobRole`;

export function awsRequest(overrides: BackfillInput = {}): BackfillRequest {
  return validateInput({
    bucket: 'lake-bucket',
    codeBucket: 'code-bucket',
    startDate: '2025-10-01',
    endDate: '2025-10-02',
    featureVersion: 'v1',
    chunkSizeDays: 2,
    emr: { appId: 'app-1', jobRole: JOB_ROLE },
    glue: { crawlerName: 'gold-crawler' },
    ...overrides,
  });
}

export function firstChunk(request: BackfillRequest): ChunkSpec {
  return planChunks(request.startDate, request.endDate, request.chunkSizeDays)[0];
}

/** Asserts that `promise` rejects with a non-retryable ApplicationFailure of `type` whose message matches. */
export async function rejectsFinal(
  promise: Promise<unknown>,
  type: string,
  message: RegExp,
): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    assert.equal(err.nonRetryable, true, `expected non-retryable: ${err.message}`);
    assert.equal(err.type, type, err.message);
    assert.match(err.message, message);
    return err;
  }
  assert.fail('expected a rejection');
}

/** Asserts that `promise` rejects with an error Temporal would retry. */
export async function rejectsRetryable(promise: Promise<unknown>, message: RegExp): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    assert.ok(
      !(err instanceof ApplicationFailure && err.nonRetryable),
      `expected a retryable error, got final ${String(err)}`,
    );
    assert.match(String((err as Error).message), message);
    return err;
  }
  assert.fail('expected a rejection');
}
