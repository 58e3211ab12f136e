/**
 * SageMaker Feature Store writes and chunk ingestion against the wire-level double of
 * test/aws/feature-store-double.ts (moto has no sagemaker-featurestore-runtime), with the real
 * SDK client. Every record must arrive exactly once, or be reported with its error.
 */
import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import * as assert from 'node:assert/strict';
import { SageMakerFeatureStore } from '../../src/activities/aws/feature-store';
import { ThrottledError, type FeatureStore, type IngestOptions, type RecordEntry } from '../../src/activities/backends';
import { AimdLimiter } from '../../src/activities/ingest/aimd';
import { DEFAULT_INGEST_OPTIONS, ingestChunk } from '../../src/activities/ingest/chunk';
import type { IngestProgress } from '../../src/activities/ingest/context';
import { deadLetterUri, publicationUri, type Publication } from '../../src/activities/ledger/records';
import { FeatureStoreDouble, type FeatureStoreDoubleOptions } from './feature-store-double';
import { awsError } from './http-double';
import { addGoldDay, MemoryLake } from './memory-lake';
import { FAKE_CREDENTIALS, REGION } from './moto';
import { awsRequest, firstChunk, rejectsFinal } from './support';

const GROUP = 'rt_card_features_v1';

async function withDouble<T>(
  options: FeatureStoreDoubleOptions,
  run: (double: FeatureStoreDouble, store: SageMakerFeatureStore) => Promise<T>,
): Promise<T> {
  const double = new FeatureStoreDouble(options);
  await double.start();
  try {
    // One try per call, as in production: the ingest loop does its own retries.
    const client = new SageMakerFeatureStoreRuntimeClient({
      region: REGION,
      endpoint: double.endpoint,
      credentials: FAKE_CREDENTIALS,
      maxAttempts: 1,
    });
    return await run(double, new SageMakerFeatureStore(client, { log: () => undefined }));
  } finally {
    await double.stop();
  }
}

function entry(eventId: string, cardId = 'card_1'): RecordEntry {
  return {
    FeatureGroupName: GROUP,
    Record: [
      { FeatureName: 'card_id', ValueAsString: cardId },
      { FeatureName: 'event_id', ValueAsString: eventId },
      { FeatureName: 'event_time', ValueAsString: '2025-10-01T00:00:00Z' },
    ],
  };
}

const badRecord = (r: Record<string, string>) =>
  r.event_id.endsWith('-bad') ? { code: 'ValidationError', message: `bad value in ${r.event_id}` } : undefined;

describe('aws: SageMaker Feature Store writes (wire-level double)', function () {
  it('maps Errors and UnprocessedEntries back to request indices, equal entries included', async () => {
    await withDouble(
      { permanentError: badRecord, unprocessedFirstTime: (r) => r.event_id === 'e2' || r.event_id === 'dup' },
      async (double, store) => {
        const entries = [entry('e0'), entry('e1-bad'), entry('e2'), entry('dup'), entry('dup'), entry('e5')];
        const outcome = await store.batchWrite(entries);
        assert.deepEqual(outcome.errors, [{ index: 1, code: 'ValidationError', message: 'bad value in e1-bad' }]);
        // The two equal "dup" entries: one unprocessed (first sight), one written.
        assert.deepEqual(outcome.unprocessed, [2, 3]);
        assert.deepEqual(
          double.written.map((w) => w.eventId),
          ['e0', 'dup', 'e5'],
        );
      },
    );
  });

  it('a call throttled as a whole is a ThrottledError', async () => {
    await withDouble({ requestsPerSecond: 0.001, burst: 1 }, async (_double, store) => {
      await store.batchWrite([entry('a')]);
      await assert.rejects(
        store.batchWrite([entry('b')]),
        (err) => err instanceof ThrottledError && /Rate exceeded/.test(err.message),
      );
    });
  });

  for (const refusal of [
    { status: 400, code: 'UnknownOperationException' },
    { status: 400, code: 'AccessDeniedException' },
  ]) {
    it(`falls back to PutRecord when BatchWriteRecord is refused (${refusal.code}) and remembers it`, async () => {
      await withDouble({ refuseBatch: refusal, permanentError: badRecord }, async (double, store) => {
        const first = await store.batchWrite([entry('p0'), entry('p1-bad'), entry('p2')]);
        assert.equal(store.mode, 'put');
        assert.deepEqual(
          first.errors.map((e) => [e.index, e.code]),
          [[1, 'ValidationError']],
        );
        await store.batchWrite([entry('p3')]);
        assert.equal(double.stats.batchCalls, 1, 'the batch API is not asked again');
        assert.deepEqual(
          double.written.map((w) => [w.eventId, w.api]),
          [
            ['p0', 'PutRecord'],
            ['p2', 'PutRecord'],
            ['p3', 'PutRecord'],
          ],
        );
      });
    });
  }

  it('PutRecord throttling: some records unprocessed, all of them a ThrottledError', async () => {
    await withDouble(
      { refuseBatch: { status: 400, code: 'UnknownOperationException' }, requestsPerSecond: 0.001, burst: 2 },
      async (double, store) => {
        const outcome = await store.batchWrite([entry('t0'), entry('t1'), entry('t2'), entry('t3')]);
        assert.equal(outcome.unprocessed.length, 2);
        assert.equal(double.written.length, 2);
        await assert.rejects(store.batchWrite([entry('t4')]), ThrottledError);
      },
    );
  });

  it('a missing feature group, or no write permission at all, is final', async () => {
    await withDouble({ featureGroups: ['other'] }, async (_double, store) => {
      await rejectsFinal(
        store.batchWrite([entry('x')]),
        'InvalidInput',
        /featureGroup: feature group "rt_card_features_v1" not found/,
      );
    });
    await withDouble(
      {
        refuseBatch: { status: 400, code: 'AccessDeniedException' },
        inject: (api) => (api === 'PutRecord' ? awsError(400, 'AccessForbidden', 'not authorized') : undefined),
      },
      async (_double, store) => {
        await rejectsFinal(
          store.batchWrite([entry('x')]),
          'AwsAccessDenied',
          /refused both BatchWriteRecord and PutRecord/,
        );
      },
    );
  });
});

describe('aws: adaptive calls in flight (AIMD)', () => {
  it('grows only while the limit binds, cuts by 30% once per round of throttles, within bounds', async () => {
    const limiter = new AimdLimiter(4, 10);
    const round = async (outcome: 'ok' | 'throttled') => {
      const tickets = await Promise.all(Array.from({ length: Math.floor(limiter.limit) }, () => limiter.acquire()));
      for (const t of tickets) limiter.release(t, outcome);
    };
    await round('ok'); // the call that filled the last slot counts: 4 + 1/4
    assert.equal(limiter.limit, 4.25);
    // One call at a time never reaches the limit: that says nothing about the store.
    for (let i = 0; i < 10; i++) limiter.release(await limiter.acquire(), 'ok');
    assert.equal(limiter.limit, 4.25);
    // Four calls in flight, all throttled: one cut, not four.
    await round('throttled');
    assert.ok(Math.abs(limiter.limit - 0.7 * 4.25) < 1e-9, String(limiter.limit));
    // A call started after the cut is news: cut again; never below 1.
    for (let i = 0; i < 10; i++) limiter.release(await limiter.acquire(), 'throttled');
    assert.equal(limiter.limit, 1);
    for (let i = 0; i < 300; i++) await round('ok');
    assert.equal(limiter.limit, 10);
    assert.deepEqual([limiter.low, limiter.high], [1, 10]);
  });

  it('holds callers beyond the limit until a call ends', async () => {
    const limiter = new AimdLimiter(2, 2);
    const a = await limiter.acquire();
    await limiter.acquire();
    let third = false;
    const waiting = limiter.acquire().then(() => (third = true));
    // A turn of the event loop: every promise that could settle (no timers involved) has settled.
    await new Promise((r) => setImmediate(r));
    assert.equal(third, false);
    limiter.release(a, 'neutral');
    await waiting;
    assert.equal(third, true);
  });
});

describe('aws: chunk ingestion into the Feature Store double', function () {
  const request = awsRequest({ bucket: 'lake', startDate: '2025-10-01', endDate: '2025-10-02', chunkSizeDays: 2 });
  const chunk = firstChunk(request);
  const days = ['2025-10-01', '2025-10-02'];
  // Fast backoff for tests; the shape (exponential, full jitter) is the production one.
  const options: IngestOptions = { ...DEFAULT_INGEST_OPTIONS, baseDelayMs: 2, maxDelayMs: 50, maxInFlight: 8 };
  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

  function lakeWith(perDay: number, eventIdSuffix?: (dt: string, i: number) => string | undefined): MemoryLake {
    const lake = new MemoryLake();
    for (const dt of days) {
      addGoldDay(lake, request, dt, perDay, 700);
      if (eventIdSuffix) {
        for (const [uri, rows] of lake.parquet) {
          if (!uri.includes(`dt=${dt}`)) continue;
          rows.forEach((row, i) => {
            const suffix = eventIdSuffix(dt, i);
            if (suffix) row.event_id = `${row.event_id}${suffix}`;
          });
        }
      }
    }
    return lake;
  }

  const ingest = (
    lake: MemoryLake,
    store: FeatureStore,
    heartbeat: (p: IngestProgress) => void = () => undefined,
    runId = 'run-1',
  ) => ingestChunk({ lake, featureStore: store }, { request, chunk, runId, ctx: { heartbeat, sleep }, options });
  const deadLetterLines = (lake: MemoryLake, dt: string) =>
    [...lake.texts]
      .filter(([uri]) => uri.startsWith(`${deadLetterUri(request, dt)}/`))
      .flatMap(([, text]) => text.trim().split('\n'));
  const publication = (lake: MemoryLake, dt: string): Publication =>
    JSON.parse(lake.texts.get(publicationUri(request, dt))!);

  it('writes every record exactly once through throttling and unprocessed entries, and reports permanent failures', async () => {
    const lake = lakeWith(1500, (_dt, i) => (i % 400 === 7 ? '-bad' : undefined));
    // A quota well below what 8 calls in flight ask for, so throttling happens even on a busy machine.
    await withDouble(
      { requestsPerSecond: 50, burst: 5, latencyMs: 5, unprocessedRate: 0.01, permanentError: badRecord },
      async (double, store) => {
        const heartbeats: IngestProgress[] = [];
        const result = await ingest(lake, store, (p) => heartbeats.push({ ...p }));

        const all = [...lake.parquet.values()].flat().map((r) => String(r.event_id));
        const bad = all.filter((id) => id.endsWith('-bad'));
        const counts = double.writeCounts();
        assert.equal(bad.length, 10); // rows 7 and 407 of each file (files of 700 rows)
        assert.deepEqual(
          all.filter((id) => !id.endsWith('-bad') && counts.get(id) !== 1),
          [],
          'every good record written exactly once',
        );
        assert.deepEqual(
          bad.filter((id) => counts.has(id)),
          [],
          'no failed record written',
        );
        assert.equal(double.written.length, all.length - bad.length);
        assert.equal(result.recordsRead, 3000);
        assert.equal(result.recordsWritten, 3000 - 10);
        assert.equal(result.failedRecords, 10);
        assert.ok(
          result.failedSample!.length <= 5 &&
            result.failedSample!.every((f) => f.code === 'ValidationError' && bad.includes(f.eventId)),
        );
        assert.ok(
          double.stats.throttled > 0 && result.throttled > 0 && result.retries > 0,
          JSON.stringify({ result, stats: double.stats }),
        );
        assert.ok(
          result.inFlightLimit && result.inFlightLimit.high <= options.maxInFlight,
          JSON.stringify(result.inFlightLimit),
        );
        // The dead-letter files list every failed record; the ledger says both days are done.
        const deadLetters = days.flatMap((dt) => deadLetterLines(lake, dt));
        assert.deepEqual(deadLetters.map((l) => JSON.parse(l).eventId).sort(), [...bad].sort());
        for (const dt of days)
          assert.deepEqual(
            [publication(lake, dt).status, publication(lake, dt).sending, publication(lake, dt).records_written],
            ['done', false, 1495],
          );
        assert.equal(heartbeats.at(-1)!.batches, 120);
      },
    );
  });

  for (const failAt of [30, 60]) {
    it(`resumes from the ledger after a failed attempt without writing any record twice (failure at call ${failAt})`, async () => {
      const lake = lakeWith(1000);
      // One BatchWriteRecord call is refused for good: the attempt fails part-way (at 60, after the first day is done).
      await withDouble(
        {
          inject: (api, n) =>
            api === 'BatchWriteRecord' && n === failAt
              ? awsError(400, 'ValidationError', 'injected failure')
              : undefined,
          latencyMs: 2,
        },
        async (double, store) => {
          await assert.rejects(ingest(lake, store), /injected failure/);
          const firstAttempt = double.written.length;
          assert.ok(firstAttempt > 0 && firstAttempt < 2000, `part written: ${firstAttempt}`);
          const recorded = days.reduce(
            (s, dt) => s + (lake.texts.has(publicationUri(request, dt)) ? publication(lake, dt).records_written : 0),
            0,
          );
          assert.equal(recorded, firstAttempt, 'the ledger covers every record written');
          assert.equal(
            publication(lake, days[0]).status === 'done',
            failAt > 40,
            'first day finished before the failure',
          );

          const result = await ingest(lake, store);
          assert.equal(result.resumed, true);
          assert.equal(result.recordsWritten, 2000);
          assert.equal(result.possibleDuplicates, 0, 'the failed attempt ended cleanly: nothing in doubt');
          const counts = double.writeCounts();
          assert.equal(counts.size, 2000);
          assert.deepEqual(
            [...counts.values()].filter((n) => n !== 1),
            [],
            'no record written twice',
          );
          assert.equal(double.written.length, 2000);

          // The same run again credits the days to itself; another run finds them published: nothing sent again.
          assert.deepEqual((await ingest(lake, store)).ingestedDates, days);
          const again = await ingest(lake, store, undefined, 'run-2');
          assert.deepEqual([again.alreadyIngestedDates, again.ingestedDates, again.recordsWritten], [days, [], 0]);
          assert.equal(double.written.length, 2000);
        },
      );
    });
  }

  it('after a crash mid-ingest, re-sends at most the batches in flight, and says how many records may be doubled', async () => {
    const lake = lakeWith(2000);
    await withDouble({ latencyMs: 3 }, async (double, store) => {
      // The "worker" dies at its 50th call: from then on no call returns, and the lake keeps what it had.
      let crashed: MemoryLake | undefined;
      let calls = 0;
      const dying: FeatureStore = {
        batchWrite: async (entries) => {
          calls += 1;
          if (calls === 50) crashed = lake.snapshot();
          if (calls >= 50) return new Promise<never>(() => undefined);
          return store.batchWrite(entries);
        },
      };
      void ingest(lake, dying);
      while (!crashed) await sleep(5);
      const beforeRestart = double.written.length;

      const result = await ingest(crashed, store);
      const counts = double.writeCounts();
      const twice = [...counts.values()].filter((n) => n > 1).length;
      assert.equal(counts.size, 4000, 'every record reached the store');
      assert.ok(beforeRestart >= 49 * 25 - options.maxInFlight * 25, `written before the crash: ${beforeRestart}`);
      assert.ok(twice <= options.maxInFlight * 25, `sent twice: ${twice}`);
      assert.ok(
        result.possibleDuplicates! >= twice && result.possibleDuplicates! <= options.maxInFlight * 25,
        `reported ${result.possibleDuplicates}, actual ${twice}`,
      );
      for (const dt of days) assert.equal(publication(crashed, dt).status, 'done');
    });
  });

  it('keeps every payload small with 50,000 refused records: counts and file paths travel, the records go to dead-letter files', async () => {
    const lake = lakeWith(25_000, () => '-bad');
    const limit = 256 * 1024;
    await withDouble({ permanentError: badRecord, requestsPerSecond: 5000, burst: 200 }, async (_double, store) => {
      const heartbeats: IngestProgress[] = [];
      const many = { ...options, maxFailedRecords: 100_000 };
      const result = await ingestChunk(
        { lake, featureStore: store },
        { request, chunk, runId: 'run-1', ctx: { heartbeat: (p) => heartbeats.push({ ...p }), sleep }, options: many },
      );
      assert.equal(result.failedRecords, 50_000);
      const lines = days.flatMap((dt) => deadLetterLines(lake, dt));
      assert.equal(
        new Set(lines.map((l) => JSON.parse(l).eventId)).size,
        50_000,
        'every refused record in a dead-letter file',
      );
      assert.ok(JSON.stringify(result).length < limit, `result: ${JSON.stringify(result).length} bytes`);
      assert.ok(Math.max(...heartbeats.map((h) => JSON.stringify(h).length)) < limit);
      for (const dt of days) assert.ok(lake.texts.get(publicationUri(request, dt))!.length < limit);

      // With the default bound the attempt fails; its failure is as small.
      const failing = await ingestChunk(
        { lake: lakeWith(25_000, () => '-bad'), featureStore: store },
        { request, chunk, ctx: { heartbeat: () => undefined, sleep }, options },
      ).then(
        () => assert.fail('expected the attempt to fail'),
        (err: Error) => err,
      );
      assert.match(failing.message, /more than 10000 records failed permanently; see .*dead_letter/);
      assert.ok(JSON.stringify({ message: failing.message, stack: failing.stack }).length < limit);
    });
  });

  it('retries calls that fail with a server error, and ingests through PutRecord where the batch API is refused', async () => {
    const lake = lakeWith(200);
    await withDouble(
      {
        inject: (api, n) =>
          api === 'BatchWriteRecord' && n % 3 === 0 ? awsError(500, 'InternalFailure', 'try again') : undefined,
      },
      async (double, store) => {
        const result = await ingest(lake, store);
        assert.equal(result.recordsWritten, 400);
        assert.ok(result.retries > 0);
        assert.equal(double.writeCounts().size, 400);
        assert.equal(double.written.length, 400);
      },
    );
    await withDouble(
      { refuseBatch: { status: 400, code: 'UnknownOperationException' }, requestsPerSecond: 2000, burst: 50 },
      async (double, store) => {
        const result = await ingest(lakeWith(200), store);
        assert.equal(result.recordsWritten, 400);
        assert.equal(store.mode, 'put');
        assert.ok(double.written.every((w) => w.api === 'PutRecord'));
        assert.deepEqual(
          [...double.writeCounts().values()].filter((n) => n !== 1),
          [],
        );
        assert.equal(double.written.length, 400);
      },
    );
  });
});
