/**
 * Publication benchmark (not a test): gold records of the sample schema published
 *   (a) through the API path (ingestChunk -> SageMakerFeatureStore -> AWS SDK -> HTTP) against the
 *       throttling Feature Store double at its default quota (100 BatchWriteRecord/s = 2,500
 *       records/s, 500 writes/s per record identifier), gold laid out by card;
 *   (b) through the Spark path: the job's own offline_publish.publish_days into the local offline
 *       store (bench/publish_spark.py; publication time only, the session being up as on EMR).
 * Prints the records/s of each and their ratio; the last line is `publish spark/api: R` (goal >= 20).
 *
 *   npm run bench:publish   (BENCH_PUBLISH_RECORDS, default 2,000,000; BENCH_PUBLISH_API_RECORDS,
 *                            default 100,000: the API path is measured on a sample, since 2M at
 *                            2,500 records/s is 13 minutes of a steady rate; set it to 2000000 for all)
 */
import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { execFileSync, fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SageMakerFeatureStore } from '../src/activities/aws/feature-store';
import { DEFAULT_INGEST_OPTIONS, ingestChunk } from '../src/activities/ingest/chunk';
import { dateRange } from '../src/common/dates';
import { validateInput } from '../src/common/input';
import { planChunks } from '../src/common/plan';
import { addGoldDay, MemoryLake } from '../test/aws/memory-lake';
import type { DoubleProcessOptions, DoubleReport } from './ingest-double';

const RECORDS = intEnv('BENCH_PUBLISH_RECORDS', 2_000_000);
const API_RECORDS = Math.min(RECORDS, intEnv('BENCH_PUBLISH_API_RECORDS', 100_000));
const DAYS = 8;
const QUOTA_RPS = 100; // the double's default quota in bench:ingest: 2,500 records/s
const CARDS = 997;

function intEnv(name: string, fallback: number): number {
  const v = process.env[name];
  return v ? Number(v) : fallback;
}

async function startDouble(options: DoubleProcessOptions) {
  const child = fork(path.join(__dirname, 'ingest-double.ts'), [JSON.stringify(options)], {
    execArgv: ['-r', 'ts-node/register/transpile-only'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { endpoint: string }).endpoint));
    child.once('exit', (code) => reject(new Error(`feature store double exited with ${code}`)));
  });
  const report = () =>
    new Promise<DoubleReport>((resolve) => {
      child.once('message', (m) => resolve(m as DoubleReport));
      child.send('report');
    });
  const stop = () => new Promise<void>((resolve) => (child.once('exit', () => resolve()), child.send('stop')));
  return { endpoint, report, stop };
}

async function apiPath(): Promise<{ records: number; seconds: number }> {
  const [startDate, endDate] = ['2025-01-01', `2025-01-0${DAYS}`];
  const request = validateInput({ bucket: 'bench-lake', startDate, endDate, chunkSizeDays: DAYS });
  const lake = new MemoryLake();
  const days = dateRange(startDate, endDate);
  days.forEach((dt, i) =>
    addGoldDay(lake, request, dt, Math.floor(API_RECORDS / DAYS) + (i < API_RECORDS % DAYS ? 1 : 0)),
  );
  // As the Spark job lays gold out: each card's rows of a day together.
  for (const rows of lake.parquet.values()) {
    const perCard = Math.max(1, Math.ceil(rows.length / CARDS));
    rows.forEach((row, i) => (row.card_id = `card_${Math.floor(i / perCard)}`));
  }
  const double = await startDouble({
    requestsPerSecond: QUOTA_RPS,
    burst: QUOTA_RPS / 10,
    latencyMs: 20,
    perRecordWritesPerSecond: 500,
  });
  const store = new SageMakerFeatureStore(
    new SageMakerFeatureStoreRuntimeClient({
      region: 'us-east-1',
      endpoint: double.endpoint,
      credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
      maxAttempts: 1,
    }),
  );
  const t0 = performance.now();
  await ingestChunk(
    { lake, featureStore: store },
    {
      request,
      chunk: planChunks(startDate, endDate, DAYS)[0],
      ctx: { heartbeat: () => undefined, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
      options: DEFAULT_INGEST_OPTIONS,
    },
  );
  const seconds = (performance.now() - t0) / 1000;
  const { counts } = await double.report();
  await double.stop();
  const written = counts.length;
  if (written !== API_RECORDS || counts.some(([, n]) => n !== 1))
    throw new Error(`API path wrote ${written} distinct records of ${API_RECORDS}, or some twice`);
  return { records: written, seconds };
}

function sparkPath(): { records: number; seconds: number } {
  const lake = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-publish-'));
  try {
    const out = execFileSync(
      path.join(__dirname, '..', '.venv', 'bin', 'python'),
      [path.join(__dirname, 'publish_spark.py'), lake, String(RECORDS), String(DAYS)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as { records: number; stored: number; seconds: number };
    if (r.records !== RECORDS || r.stored !== RECORDS)
      throw new Error(`Spark path published ${r.records} and stored ${r.stored} of ${RECORDS}`);
    return r;
  } finally {
    fs.rmSync(lake, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(`load average before: ${fs.readFileSync('/proc/loadavg', 'utf8').trim()} (${os.cpus().length} cores)`);
  const spark = sparkPath();
  const api = await apiPath();
  const rate = (r: { records: number; seconds: number }) => r.records / r.seconds;
  const sample = API_RECORDS < RECORDS ? ` (a sample of ${API_RECORDS} of the ${RECORDS}: the rate is steady)` : '';
  console.log(
    `spark path: ${spark.records} records into the local offline store in ${spark.seconds.toFixed(1)} s = ${rate(spark).toFixed(0)} records/s`,
  );
  console.log(
    `api path:   ${api.records} records through BatchWriteRecord (quota ${QUOTA_RPS * 25} records/s, 500 writes/s per card) in ${api.seconds.toFixed(1)} s = ${rate(api).toFixed(0)} records/s${sample}`,
  );
  console.log(`load average after: ${fs.readFileSync('/proc/loadavg', 'utf8').trim()}`);
  console.log(`publish spark/api: ${(rate(spark) / rate(api)).toFixed(1)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
