/**
 * The EMR runs a backfill still has going (the overlap lease's takeover check), through the real
 * runner and SDK client against the EMR double's ListJobRuns.
 */
import * as assert from 'node:assert/strict';
import { EmrServerlessRunner } from '../../src/activities/aws/emr';
import { EmrDouble } from './emr-double';
import { awsRequest, firstChunk } from './support';

describe('aws: EMR runs a backfill still has going', () => {
  let emr: EmrDouble;
  before(async () => {
    emr = new EmrDouble();
    await emr.start();
    emr.applications.set('app-1', { state: 'STARTED', type: 'SPARK' });
  });
  after(() => emr.stop());

  it("lists the holder's unended runs by name, page by page, and none once they end", async () => {
    const runner = new EmrServerlessRunner(emr.client());
    const request = awsRequest({ jobCodeKey: 'jobs/x' });
    const chunk = firstChunk(request);
    const submit = async (runName: string, states: string[]) => {
      emr.scripts.push({ states });
      await runner.submit({ request, chunk, args: [], runName });
      return emr.runs.at(-1)!;
    };
    const held = ['SUBMITTED', 'RUNNING'];
    const running = await submit('backfill-a/chunk-1', held);
    const pending = await submit('backfill-a/chunk-2', ['SUBMITTED', 'PENDING']);
    await submit('backfill-a/chunk-3', ['SUBMITTED', 'SUCCESS']);
    await submit('backfill-ab/chunk-1', held);
    await submit('other/chunk-1', held);
    emr.pageSize = 1;

    const ids = async (holder: string) =>
      (await runner.activeRuns({ holder, application: 'app-1' })).map((r) => r.id).sort();
    assert.deepEqual(await ids('backfill-a'), [running.jobRunId, pending.jobRunId].sort());
    assert.ok(emr.count('ListJobRuns') >= 4, 'it followed nextToken');
    emr.moveTo(running, 'CANCELLING'); // still able to write
    assert.deepEqual(await ids('backfill-a'), [running.jobRunId, pending.jobRunId].sort());
    emr.moveTo(running, 'CANCELLED');
    emr.moveTo(pending, 'FAILED');
    assert.deepEqual(await ids('backfill-a'), []);

    // Nowhere to look is not "none"; an application that is gone runs nothing.
    assert.equal((await runner.activeRuns({ holder: 'backfill-a' })).length, 1);
    assert.deepEqual(await runner.activeRuns({ holder: 'backfill-a', application: 'app-gone' }), []);
  });
});
