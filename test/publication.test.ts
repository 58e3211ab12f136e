/**
 * The publication ledger on real runs (dev server, spark-submit, the local catalog and store): a
 * failed ingest resumes instead of redoing, overwrite is atomic for readers, gold from outside the
 * ledger is not sent again unless asked, and a coverage gap under --overwrite is only a warning.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MockActivityEnvironment, type TestWorkflowEnvironment } from '@temporalio/testing';
import { createActivities } from '../src/activities';
import type { FeatureStore } from '../src/activities/backends';
import { createLocalBackends } from '../src/activities/local';
import { catalogUri, type CatalogFile } from '../src/activities/local/catalog';
import { LocalLake } from '../src/activities/local/lake';
import { goldCommitUri, publicationUri, type GoldCommit } from '../src/activities/ledger/records';
import { validateInput } from '../src/common/input';
import { planChunks } from '../src/common/plan';
import type { BackfillReport, SparkJobResult } from '../src/common/results';
import { backfillWorkflow } from '../src/workflows';
import { goldRows, makeSampleLake, openLakeStore, requestFor } from './support/lake';
import { startBackfillWorker, type RunningWorker } from './support/worker';
import { createDevServerEnv, ROOT, VENV_BIN } from './support/temporal';

const GROUP = 'rt_card_features_v1';
const DAYS = ['2025-10-01', '2025-10-02', '2025-10-03'];

describe('publication ledger on real local runs', function () {
  let env: TestWorkflowEnvironment;
  let lake: string;
  let state: string;
  let worker: RunningWorker | undefined;
  let backends: ReturnType<typeof createLocalBackends>;
  const submits: string[] = [];
  /** Store calls to refuse (with a non-retryable store error), by call number. */
  const faults = { failAt: new Set<number>(), calls: 0 };
  const local = new LocalLake();

  before(async () => {
    lake = makeSampleLake({ start: DAYS[0], days: DAYS.length, eventsPerDay: 1200, cards: 40, seed: 5 });
    state = fs.mkdtempSync(path.join(os.tmpdir(), 'backfill-ledger-'));
    env = await createDevServerEnv();
    backends = createLocalBackends({
      venvBin: VENV_BIN,
      jobDir: path.join(ROOT, 'spark_jobs'),
      stateDir: state,
      pollIntervalMs: 300,
    });
    const submit = backends.spark.submit.bind(backends.spark);
    backends.spark.submit = (spec) => {
      submits.push(spec.chunk.id);
      return submit(spec);
    };
    const storeFor = backends.featureStoreFor;
    backends.featureStoreFor = (request): FeatureStore => {
      const store = storeFor(request);
      return {
        batchWrite: (entries) => {
          faults.calls += 1;
          if (faults.failAt.delete(faults.calls)) return Promise.reject(new Error('injected store failure'));
          return store.batchWrite(entries);
        },
      };
    };
    worker = await startBackfillWorker(env, 'ledger', backends);
  });

  after(async () => {
    await worker?.stop();
    await env?.teardown();
    backends?.featureStores.close();
    fs.rmSync(lake, { recursive: true, force: true });
    fs.rmSync(state, { recursive: true, force: true });
  });

  const run = (workflowId: string, extra: Record<string, unknown>): Promise<BackfillReport> =>
    env.client.workflow.execute(backfillWorkflow, {
      // onlineHorizonDays 0: every day through the API (whose calls the test counts and fails) into both stores.
      args: [
        {
          bucket: lake,
          featureVersion: 'v1',
          chunkSizeDays: 2,
          maxConcurrentChunks: 1,
          onlineHorizonDays: 0,
          ...extra,
        },
      ],
      taskQueue: 'ledger',
      workflowId,
    });

  /** Offline-store records per day (the offline store keeps every write, as SageMaker's does). */
  function offlinePerDay(): Record<string, number> {
    if (!fs.existsSync(path.join(lake, '_feature_store', 'feature-store.db'))) return {};
    const store = openLakeStore(lake);
    try {
      const out: Record<string, number> = {};
      for (const r of store.offlineRecords(GROUP))
        out[r.event_time.slice(0, 10)] = (out[r.event_time.slice(0, 10)] ?? 0) + 1;
      return out;
    } finally {
      store.close();
    }
  }

  async function commit(dt: string): Promise<GoldCommit | undefined> {
    const text = await local.readText(goldCommitUri(requestFor(lake), dt));
    return text ? (JSON.parse(text) as GoldCommit) : undefined;
  }

  it('a failed ingest attempt resumes where the ledger says: Spark ran once, every record once, validation passes', async () => {
    faults.failAt = new Set([15]);
    faults.calls = 0;
    const report = await run('ledger-resume', { startDate: DAYS[0], endDate: DAYS[1] });
    assert.equal(report.status, 'succeeded', JSON.stringify(report.chunks.map((c) => [c.error, c.validationProblems])));
    assert.equal(faults.failAt.size, 0, 'the fault was injected');
    assert.deepEqual(submits, ['2025-10-01_2025-10-02'], 'one Spark job');
    const gold = {
      [DAYS[0]]: (await goldRows(lake, 'v1', DAYS[0])).length,
      [DAYS[1]]: (await goldRows(lake, 'v1', DAYS[1])).length,
    };
    assert.deepEqual(offlinePerDay(), gold, 'each gold row once in the offline store');
    assert.equal(
      report.totals.recordsIngested,
      gold[DAYS[0]] + gold[DAYS[1]],
      'records of every attempt credited to the run',
    );
    assert.equal(report.totals.possibleDuplicates, 0);
    assert.equal(report.chunks[0].validationOk, true);
  });

  it('a Spark step retried after its result was lost credits the gold this run committed, without a second job', async () => {
    const request = validateInput({ bucket: lake, startDate: DAYS[2], endDate: DAYS[2] });
    const [chunk] = planChunks(DAYS[2], DAYS[2], 1);
    const activities = createActivities(backends);
    const input = { request, chunk, runName: 'lost-result/chunk', runId: 'lost-result-run' };
    const first = (await new MockActivityEnvironment().run(activities.runSparkJob, input)) as SparkJobResult;
    // The same step again, as after a server restart that lost the first result: the gold is this run's.
    const again = (await new MockActivityEnvironment({ attempt: 2 }).run(
      activities.runSparkJob,
      input,
    )) as SparkJobResult;
    assert.equal(submits.filter((c) => c === chunk.id).length, 1, 'no second job');
    assert.deepEqual(again.manifest.written_partitions, [DAYS[2]]);
    assert.deepEqual(again.manifest.skipped_partitions, []);
    assert.equal(again.manifest.output_rows, first.manifest.output_rows);
    assert.equal(again.manifest.output_rows, (await goldRows(lake, 'v1', DAYS[2])).length);
  });

  it('an overwrite over a day whose bronze is gone succeeds with a warning and keeps that day as it was', async () => {
    const bronze = path.join(lake, 'bronze', 'streaming', 'card_authorization', `dt=${DAYS[1]}`);
    const aside = `${bronze}.aside`;
    fs.renameSync(bronze, aside);
    try {
      const before = { day0: await commit(DAYS[0]), day1: await commit(DAYS[1]), offline: offlinePerDay() };
      const report = await run('ledger-gap', { startDate: DAYS[0], endDate: DAYS[1], overwrite: true });
      assert.equal(
        report.status,
        'succeeded',
        JSON.stringify(report.chunks.map((c) => [c.error, c.validationProblems])),
      );
      assert.deepEqual(report.chunks[0].coverageGaps, [DAYS[1]]);
      assert.ok(
        report.chunks[0].validationProblems?.some((p) => p.startsWith('coverage:')),
        JSON.stringify(report.chunks[0].validationProblems),
      );
      assert.deepEqual(await commit(DAYS[1]), before.day1, 'the gap day keeps its gold');
      assert.notEqual((await commit(DAYS[0]))!.run_id, before.day0!.run_id, 'the other day was rebuilt');
      const offline = offlinePerDay();
      assert.equal(offline[DAYS[1]], before.offline[DAYS[1]], 'the gap day is not sent again');
      // Rebuilt without the gap day's folder, which also held some of its late events: fewer rows.
      const rebuilt = (await goldRows(lake, 'v1', DAYS[0])).length;
      assert.ok(rebuilt > 0 && rebuilt < before.day0!.rows, `rebuilt ${rebuilt} of ${before.day0!.rows}`);
      assert.equal(offline[DAYS[0]], before.offline[DAYS[0]] + rebuilt, 'the rebuilt day is published again');
    } finally {
      fs.renameSync(aside, bronze);
    }
  });

  it('readers through the catalog see the old day or the new one during --overwrite, never a missing or partial day', async () => {
    const uri = catalogUri(lake).slice('file://'.length);
    const old = { location: (await commit(DAYS[0]))!.location, rows: (await goldRows(lake, 'v1', DAYS[0])).length };
    const seen = { reads: 0, counts: new Map<string, Set<number>>() };
    let stop = false;
    const reader = (async () => {
      while (!stop) {
        const catalog = JSON.parse(fs.readFileSync(uri, 'utf8')) as CatalogFile;
        const part = catalog.tables['gold.card_features'].partitions.find(
          (p) => p.feature_version === 'v1' && p.dt === DAYS[0],
        );
        let rows = 0;
        if (part)
          for (const f of await local.list(part.location))
            if (f.uri.endsWith('.parquet')) rows += (await local.readParquet(f.uri)).length;
        seen.reads += 1;
        const key = part?.location ?? 'no partition';
        seen.counts.set(key, (seen.counts.get(key) ?? new Set()).add(rows));
        await new Promise((r) => setImmediate(r));
      }
    })();
    const report = await run('ledger-readers', { startDate: DAYS[0], endDate: DAYS[0], overwrite: true });
    stop = true;
    await reader;
    assert.equal(report.status, 'succeeded');
    const now = { location: (await commit(DAYS[0]))!.location, rows: (await goldRows(lake, 'v1', DAYS[0])).length };
    assert.notEqual(now.location, old.location);
    assert.ok(seen.reads > 20, `reads: ${seen.reads}`);
    // Every read saw one whole gold: the old location with all its rows, or the new one with all of its.
    const counts = Object.fromEntries([...seen.counts].map(([k, v]) => [k, [...v]]));
    assert.deepEqual(counts, { [old.location!]: [old.rows], [now.location!]: [now.rows] }, `${seen.reads} reads`);
  });

  it('gold written without a ledger counts as published; --republish sends it once', async () => {
    // Make day 3 look like the pipeline we replace wrote it: files directly in dt=, no ledger records.
    const day = DAYS[2];
    const c = (await commit(day))!;
    const flat = path.join(lake, 'gold', 'card_features', 'feature_version=v1', `dt=${day}`);
    for (const f of c.files) fs.renameSync(f.slice('file://'.length), path.join(flat, path.basename(f)));
    fs.rmSync(goldCommitUri(requestFor(lake), day).slice('file://'.length));
    fs.rmSync(publicationUri(requestFor(lake), day).slice('file://'.length), { force: true });
    const rows = (await goldRows(lake, 'v1', day)).length;
    const before = offlinePerDay()[day] ?? 0;

    const dry = await run('ledger-foreign-dry', { startDate: day, endDate: day, dryRun: true });
    assert.deepEqual(dry.dryRun?.foreign, [day]);
    assert.deepEqual(
      dry.dryRun?.days?.map((d) => [d.gold, d.publish]),
      [['keep', 'foreign']],
    );
    const plain = await run('ledger-foreign', { startDate: day, endDate: day });
    assert.equal(plain.status, 'succeeded');
    assert.deepEqual(plain.chunks[0].foreignDates, [day]);
    assert.equal(offlinePerDay()[day] ?? 0, before, 'nothing sent');

    const republished = await run('ledger-republish', { startDate: day, endDate: day, republish: true });
    assert.equal(
      republished.status,
      'succeeded',
      JSON.stringify(republished.chunks.map((x) => [x.error, x.validationProblems])),
    );
    assert.equal(republished.totals.recordsIngested, rows);
    assert.equal((offlinePerDay()[day] ?? 0) - before, rows, 'sent once');
    const again = await run('ledger-republish-again', { startDate: day, endDate: day, republish: true });
    assert.equal(again.totals.recordsIngested, 0);
    assert.equal((offlinePerDay()[day] ?? 0) - before, rows, 'not sent a second time');
  });
});
