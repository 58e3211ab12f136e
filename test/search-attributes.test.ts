/**
 * A namespace without the backfill's search attributes, on a real dev server started without
 * them: the preflight activity fails the backfill at once with the commands that create them (the
 * workflow's upsertSearchAttributes would otherwise fail its task over and over), the worker's
 * start-up check refuses the namespace, and the printed commands, run with the real CLI, fix it.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createActivities } from '../src/activities';
import { createLocalBackends } from '../src/activities/local';
import {
  namespaceSearchAttributeProblem,
  searchAttributeLister,
  searchAttributeProblem,
} from '../src/activities/backfill/search-attributes';
import type { BackfillReport } from '../src/common/results';
import { checkNamespaceAtStartup, runWorker } from '../src/worker';
import { SEARCH_ATTRIBUTES } from '../src/workflows/api';
import { backfillWorkflow } from '../src/workflows/backfill';
import { devServerDynamicConfigArgs, ROOT, VENV_BIN, WORKFLOWS_PATH } from './support/temporal';

const CREATE_COMMAND =
  'temporal operator search-attribute create --namespace default --name BackfillFeatureGroup --type Keyword --name BackfillFeatureVersion --type Keyword ' +
  '--name BackfillStatus --type Keyword --name BackfillChunksDone --type Int --name BackfillChunksTotal --type Int';

describe('search attributes: a namespace without them is refused at once, with the fix', function () {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  let dir: string;
  const taskQueue = 'search-attributes';

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'backfill-sa-'));
    fs.mkdirSync(path.join(dir, 'lake'));
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: path.join(VENV_BIN, 'temporal') },
        extraArgs: devServerDynamicConfigArgs(),
        searchAttributes: [], // the point of this file
      },
    });
    const backends = createLocalBackends({ venvBin: VENV_BIN, jobDir: path.join(ROOT, 'spark_jobs'), stateDir: dir });
    // As src/worker.ts does: the lister over the worker's own connection.
    const activities = createActivities({ ...backends, searchAttributes: searchAttributeLister(env.nativeConnection) });
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      activities,
    });
    running = worker.run();
  });

  after(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const dryRun = (workflowId: string) =>
    env.client.workflow.execute(backfillWorkflow, {
      args: [
        {
          bucket: path.join(dir, 'lake'),
          startDate: '2025-10-01',
          endDate: '2025-10-02',
          featureVersion: 'v1',
          dryRun: true,
        },
      ],
      taskQueue,
      workflowId,
      // Without the check the workflow task fails for ever: bound it so the old code fails, not hangs.
      workflowExecutionTimeout: '2 minutes',
    });

  it('fails the backfill at preflight with the create commands, before any upsert', async () => {
    const err = await dryRun('sa-missing').then(
      () => assert.fail('expected the backfill to fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError, String(err));
    assert.ok(err.cause instanceof ApplicationFailure, String(err.cause));
    assert.equal(err.cause.type, 'InvalidInput');
    assert.match(
      err.cause.message,
      /namespace "default" lacks the backfill's search attributes BackfillFeatureGroup \(Keyword\)/,
    );
    assert.ok(err.cause.message.includes(CREATE_COMMAND), err.cause.message);
    // No workflow task failed on an upsert: the history is the plain validate-preflight-fail path.
    const history = await env.client.workflow.getHandle('sa-missing').fetchHistory();
    const types = (history.events ?? []).map((e) => e.eventType);
    const { EVENT_TYPE_WORKFLOW_TASK_FAILED, EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES } =
      temporal.api.enums.v1.EventType;
    assert.ok(!types.includes(EVENT_TYPE_WORKFLOW_TASK_FAILED), 'a workflow task failed');
    // patched() upserts the system attribute TemporalChangeVersion (always present): none of ours.
    const upserted = (history.events ?? [])
      .filter((e) => e.eventType === EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES)
      .flatMap((e) =>
        Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}),
      );
    assert.deepEqual(
      upserted.filter((k) => k !== 'TemporalChangeVersion'),
      [],
      'search attributes of ours were upserted',
    );
  });

  it('the worker start-up check refuses the namespace; the printed commands, run with the CLI, fix it', async () => {
    // runWorker itself, connected through the environment configuration as in production.
    const saved = { ...process.env };
    Object.assign(process.env, {
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_NAMESPACE: 'default',
      BACKFILL_TASK_QUEUE: 'sa-startup',
    });
    try {
      await assert.rejects(runWorker(), (e: Error) => e.message.includes(CREATE_COMMAND));
    } finally {
      for (const k of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'BACKFILL_TASK_QUEUE']) delete process.env[k];
      Object.assign(process.env, saved);
    }
    const lister = searchAttributeLister(env.nativeConnection);
    const refused = await checkNamespaceAtStartup(lister, 'default').then(
      () => assert.fail('expected the start-up check to refuse the namespace'),
      (e: Error) => e,
    );
    const commands = refused.message
      .split('\n')
      .filter((l) => l.trim().startsWith('temporal '))
      .map((l) => l.trim());
    assert.deepEqual(commands, [CREATE_COMMAND]);
    for (const command of commands) {
      // The operator's shell has the worker's connection settings; here TEMPORAL_ADDRESS.
      execFileSync(path.join(VENV_BIN, 'temporal'), command.split(' ').slice(1), {
        env: { ...process.env, TEMPORAL_ADDRESS: env.address },
        stdio: 'pipe',
      });
    }
    await checkNamespaceAtStartup(lister, 'default');

    const report: BackfillReport = await dryRun('sa-present');
    assert.equal(report.status, 'dry_run');
    const described = await env.client.workflow.getHandle('sa-present').describe();
    assert.equal(described.typedSearchAttributes.get(SEARCH_ATTRIBUTES.status), 'dry_run');
    assert.equal(described.typedSearchAttributes.get(SEARCH_ATTRIBUTES.chunksTotal), report.chunks.length);
  });

  it('names a search attribute registered with another type, with the fix', () => {
    const registered = {
      BackfillFeatureGroup: 'KEYWORD',
      BackfillFeatureVersion: 'KEYWORD',
      BackfillStatus: 'INT',
      BackfillChunksDone: 'INT',
      BackfillChunksTotal: 'INT',
    };
    assert.equal(
      searchAttributeProblem('prod', registered),
      'namespace "prod" has search attribute BackfillStatus as Int, the backfill needs Keyword: remove it ' +
        '(temporal operator search-attribute remove --namespace prod --name BackfillStatus) and create it again, or use another namespace',
    );
    assert.equal(searchAttributeProblem('prod', { ...registered, BackfillStatus: 'KEYWORD' }), undefined);
  });

  it('an identity that may not list search attributes gets a warning, not a refused backfill; an outage is thrown', async () => {
    const refusing = (code: number) =>
      searchAttributeLister({
        operatorService: {
          listSearchAttributes: () => Promise.reject(Object.assign(new Error(`${code} request refused`), { code })),
        },
      });
    const warnings: string[] = [];
    assert.equal(await namespaceSearchAttributeProblem(refusing(7), 'prod', (m) => warnings.push(m)), undefined);
    assert.match(
      warnings[0],
      /cannot list the search attributes of namespace "prod" \(7 request refused\); not checking them/,
    );
    await assert.rejects(
      namespaceSearchAttributeProblem(refusing(14), 'prod', (m) => warnings.push(m)),
      /14 request refused/,
    );
    assert.equal(warnings.length, 1);
  });
});
