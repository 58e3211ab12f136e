/**
 * Ingest benchmark (not a test): the real ingest path (ingestChunk -> SageMakerFeatureStore ->
 * AWS SDK -> HTTP) against the throttling Feature Store double at a fixed quota, then a plain
 * fixed-concurrency PutRecord loop without backoff against the same kind of double, for comparison.
 *
 *   npm run bench:ingest            (BENCH_RECORDS, BENCH_QUOTA_RPS, BENCH_BURST, BENCH_LATENCY_MS to change)
 *
 * Quota: the double admits BENCH_QUOTA_RPS requests/s per API (token bucket of BENCH_BURST
 * requests), and BENCH_PER_RECORD_WPS writes/s per record identifier (the online store's 500 write
 * units/s per identifier); gold is laid out by card, as the Spark job writes it. In records/s that is BENCH_QUOTA_RPS x 25 for BatchWriteRecord (25 entries a call)
 * and BENCH_QUOTA_RPS x 1 for PutRecord. Goodput = distinct records accepted / wall time.
 * Lost = records neither accepted nor reported as failed.
 */
import { PutRecordCommand, SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { SageMakerFeatureStore } from '../src/activities/aws/feature-store';
import { goldRowToRecord } from '../src/activities/feature-records';
import { DEFAULT_INGEST_OPTIONS, ingestChunk } from '../src/activities/ingest/chunk';
import { dateRange } from '../src/common/dates';
import { validateInput } from '../src/common/input';
import { planChunks } from '../src/common/plan';
import { addGoldDay, MemoryLake } from '../test/aws/memory-lake';
import { deadLetterUri } from '../src/activities/ledger/records';
import type { DoubleProcessOptions, DoubleReport } from './ingest-double';

const RECORDS = intEnv('BENCH_RECORDS', 200_000);
// 100 requests/s = 2,500 records/s: well inside what one Node process can drive (the SDK costs
// ~2.5-3.5 ms of CPU per BatchWriteRecord call here, so ~300-400 calls/s at most on a free core).
const QUOTA_RPS = intEnv('BENCH_QUOTA_RPS', 100);
// A tenth of a second of quota: a small bucket, so bursts cannot hide a client that under-sends.
const BURST = intEnv('BENCH_BURST', Math.max(1, Math.round(QUOTA_RPS / 10)));
// About what a BatchWriteRecord of 25 records takes in-region.
const LATENCY_MS = intEnv('BENCH_LATENCY_MS', 20);
const DAYS = 8;
// The online store's write limit per record identifier (500 write units/s), modelled by the double.
const PER_RECORD_WPS = intEnv('BENCH_PER_RECORD_WPS', 500);
const CARDS = 997;

/** Gold as the Spark job lays it out: each card's rows of a day together (the worst case for the per-card limit). */
function layOutByCard(lake: MemoryLake): void {
  for (const rows of lake.parquet.values()) {
    const perCard = Math.max(1, Math.ceil(rows.length / CARDS));
    rows.forEach((row, i) => (row.card_id = `card_${Math.floor(i / perCard)}`));
  }
}
const PUT_LOOP_SECONDS = intEnv('BENCH_PUT_SECONDS', 10);
const PUT_LOOP_CONCURRENCY = 16;
// The naive loop tries a record this many times back to back, then gives up on it.
const PUT_LOOP_TRIES = 3;

function intEnv(name: string, fallback: number): number {
  const v = process.env[name];
  return v ? Number(v) : fallback;
}

function client(endpoint: string): SageMakerFeatureStoreRuntimeClient {
  return new SageMakerFeatureStoreRuntimeClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    maxAttempts: 1, // as in production: throttling is handled by the ingest loop, not the SDK
  });
}

// One record in 20,000 is malformed: it must come back as a reported failure, not vanish.
const BAD_EVERY = 20_000;

/** The double in its own process (bench/ingest-double.ts). */
class DoubleProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly endpoint: string,
  ) {}

  static async start(options: DoubleProcessOptions): Promise<DoubleProcess> {
    const child = fork(path.join(__dirname, 'ingest-double.ts'), [JSON.stringify(options)], {
      execArgv: ['-r', 'ts-node/register/transpile-only'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const endpoint = await new Promise<string>((resolve, reject) => {
      child.once('message', (m) => resolve((m as { endpoint: string }).endpoint));
      child.once('exit', (code) => reject(new Error(`feature store double exited with ${code}`)));
    });
    return new DoubleProcess(child, endpoint);
  }

  async report(): Promise<DoubleReport & { written: Map<string, number> }> {
    const report = await new Promise<DoubleReport>((resolve) => {
      this.child.once('message', (m) => resolve(m as DoubleReport));
      this.child.send('report');
    });
    return { ...report, written: new Map(report.counts) };
  }

  async stop(): Promise<void> {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.send('stop');
    await exited;
  }
}

async function adaptiveIngest(): Promise<number> {
  const startDate = '2025-10-01';
  const endDate = dateRange(startDate, '2025-12-31')[DAYS - 1];
  const request = validateInput({
    bucket: 'bench-lake',
    startDate,
    endDate,
    chunkSizeDays: DAYS,
    featureVersion: 'v1',
  });
  const chunk = planChunks(startDate, endDate, DAYS)[0];
  const lake = new MemoryLake();
  const days = dateRange(startDate, endDate);
  days.forEach((dt, i) => addGoldDay(lake, request, dt, Math.floor(RECORDS / DAYS) + (i < RECORDS % DAYS ? 1 : 0)));
  layOutByCard(lake);

  const double = await DoubleProcess.start({
    requestsPerSecond: QUOTA_RPS,
    perRecordWritesPerSecond: PER_RECORD_WPS,
    burst: BURST,
    latencyMs: LATENCY_MS,
    unprocessedRate: 0.001,
    badEvery: BAD_EVERY,
    seed: 7,
  });
  const store = new SageMakerFeatureStore(client(double.endpoint));
  let heartbeats = 0;
  const t0 = performance.now();
  const result = await ingestChunk(
    { lake, featureStore: store },
    {
      request,
      chunk,
      ctx: { heartbeat: () => (heartbeats += 1), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
      options: DEFAULT_INGEST_OPTIONS,
    },
  );
  const seconds = (performance.now() - t0) / 1000;
  const { stats, written: counts } = await double.report();
  await double.stop();

  const duplicates = [...counts.values()].filter((n) => n > 1).length;
  const deadLetters = [...lake.texts]
    .filter(([uri]) => days.some((dt) => uri.startsWith(`${deadLetterUri(request, dt)}/`)))
    .flatMap(([, text]) => text.split('\n').filter(Boolean));
  const failed = new Set(deadLetters.map((l) => String(JSON.parse(l).eventId)));
  const all = [...lake.parquet.values()].flat().map((r) => String(r.event_id));
  const lost = all.filter((id) => !counts.has(id) && !failed.has(id)).length;
  const goodput = counts.size / seconds;
  const quota = QUOTA_RPS * 25;
  console.log(`\nadaptive ingest (BatchWriteRecord, AIMD, backoff with jitter; production defaults)`);
  console.log(`  records            ${all.length} in ${DAYS} daily partitions`);
  console.log(
    `  quota              ${QUOTA_RPS} requests/s x 25 = ${quota} records/s (bucket ${BURST}, latency ${LATENCY_MS} ms)`,
  );
  console.log(`  time               ${seconds.toFixed(1)} s`);
  console.log(`  goodput            ${goodput.toFixed(0)} records/s = ${(goodput / quota).toFixed(3)} of quota`);
  console.log(
    `  calls              ${stats.batchCalls} BatchWriteRecord (${result.batches} batches), ${stats.throttled} throttled`,
  );
  console.log(
    `  retries            ${result.retries} (throttled calls or unprocessed entries: ${result.throttled}; unprocessed entries: ${stats.unprocessedEntries})`,
  );
  console.log(
    `  in flight (AIMD)   final ${result.inFlightLimit?.final}, range ${result.inFlightLimit?.low}..${result.inFlightLimit?.high}`,
  );
  console.log(
    `  per-card limit     ${PER_RECORD_WPS} writes/s per record identifier; entries refused by it: ${stats.recordThrottled}`,
  );
  console.log(`  failed (reported)  ${result.failedRecords}`);
  console.log(`  duplicates         ${duplicates}`);
  console.log(`  lost               ${lost}`);
  console.log(`  checkpoints        ${heartbeats} (each in the ledger before the worker takes its next batch)`);
  (adaptiveIngest as { summary?: string }).summary =
    `ingest goodput/quota: ${(goodput / quota).toFixed(3)} lost: ${lost}`;
  return lost;
}

/** What a first attempt often looks like: N workers, PutRecord per record, a few immediate tries. */
async function naivePutLoop(): Promise<void> {
  const request = validateInput({
    bucket: 'bench-lake',
    startDate: '2025-10-01',
    endDate: '2025-10-01',
    featureVersion: 'v1',
  });
  const lake = new MemoryLake();
  addGoldDay(lake, request, '2025-10-01', Math.min(RECORDS, QUOTA_RPS * PUT_LOOP_SECONDS * 4));
  const rows = [...lake.parquet.values()].flat();
  const double = await DoubleProcess.start({
    requestsPerSecond: QUOTA_RPS,
    burst: BURST,
    latencyMs: LATENCY_MS,
    badEvery: BAD_EVERY,
    seed: 7,
  });
  const sdk = client(double.endpoint);
  let next = 0;
  let attempted = 0;
  let lost = 0;
  let failed = 0;
  const deadline = performance.now() + PUT_LOOP_SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: PUT_LOOP_CONCURRENCY }, async () => {
      while (next < rows.length && performance.now() < deadline) {
        const row = rows[next++];
        attempted += 1;
        for (let tries = 1; ; tries++) {
          try {
            await sdk.send(
              new PutRecordCommand({ FeatureGroupName: request.featureGroup, Record: goldRowToRecord(row, 'v1') }),
            );
            break;
          } catch (err) {
            const name = (err as { name?: string }).name;
            if (name === 'ThrottlingException' && tries < PUT_LOOP_TRIES) continue; // no backoff: straight back in
            if (name === 'ThrottlingException') lost += 1;
            else failed += 1;
            break;
          }
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const { stats, written: counts } = await double.report();
  await double.stop();
  const written = counts.size;
  console.log(
    `\nnaive PutRecord loop (${PUT_LOOP_CONCURRENCY} workers, up to ${PUT_LOOP_TRIES} immediate tries, no backoff), ${PUT_LOOP_SECONDS} s`,
  );
  console.log(`  quota              ${QUOTA_RPS} requests/s x 1 = ${QUOTA_RPS} records/s (same bucket and latency)`);
  console.log(`  records attempted  ${attempted}`);
  console.log(
    `  goodput            ${(written / seconds).toFixed(0)} records/s = ${(written / seconds / QUOTA_RPS).toFixed(3)} of its quota, ${(written / seconds / (QUOTA_RPS * 25)).toFixed(3)} of the batch quota`,
  );
  console.log(`  calls              ${stats.putCalls} PutRecord, ${stats.throttled} throttled`);
  console.log(`  failed (reported)  ${failed}`);
  console.log(
    `  lost               ${lost} (${((100 * lost) / Math.max(1, attempted)).toFixed(1)}% of attempted: given up while throttled)`,
  );
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING ??= '1';
  const lost = await adaptiveIngest();
  await naivePutLoop();
  console.log('');
  console.log((adaptiveIngest as { summary?: string }).summary);
  if (lost > 0) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
