/**
 * Glue catalog against moto (server mode): the crawler mode with moto's state manager driving
 * crawls (model glue::crawl, RUNNING for a second, then COMPLETED), and the partitions mode.
 */
import {
  CreateCrawlerCommand,
  CreateDatabaseCommand,
  GetCrawlerCommand,
  GetTableCommand,
  GlueClient,
  ListCrawlsCommand,
  StartCrawlerCommand,
  type GetCrawlerCommandOutput,
} from '@aws-sdk/client-glue';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities';
import { GluePartitionCatalog } from '../../src/activities/aws/glue';
import { GlueCrawlerCatalog } from '../../src/activities/aws/glue-crawler';
import { S3Lake } from '../../src/activities/aws/s3-lake';
import type { Backends, Catalog } from '../../src/activities/backends';
import { goldPartition, goldTable } from '../../src/activities/lake-paths';
import { goldCommitUri, type GoldCommit } from '../../src/activities/ledger/records';
import { planChunks } from '../../src/common/plan';
import { until } from '../support/until';
import { motoClients, startMoto, type Moto } from './moto';
import { awsRequest, firstChunk, GOLD_FIXTURE, rejectsFinal } from './support';

describe('aws: Glue catalog on moto', function () {
  let moto: Moto;
  let glue: GlueClient;
  let s3: S3Client;
  const started: string[] = [];

  before(async () => {
    moto = await startMoto();
    ({ glue, s3 } = motoClients(moto.endpoint));
    glue.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'StartCrawlerCommand') started.push((args.input as { Name: string }).Name);
        return next(args);
      },
      { step: 'initialize', name: 'countStarts' },
    );
    // Each crawl stays RUNNING for a second, as seen by GetCrawler.
    await moto.api('/moto-api/state-manager/set-transition', {
      model_name: 'glue::crawl',
      transition: { progression: 'time', seconds: 1 },
    });
    await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: 'gold' } }));
    for (const name of ['gold-crawler', 'busy-crawler', 'shared-crawler', 'failing-crawler']) {
      await glue.send(
        new CreateCrawlerCommand({
          Name: name,
          Role: 'arn:aws:iam::123456789012:role/GlueCrawler',
          DatabaseName: 'gold',
          Targets: { S3Targets: [{ Path: 's3://lake/gold/card_features/' }] },
        }),
      );
    }
    await s3.send(new CreateBucketCommand({ Bucket: 'lake' }));
  });
  after(async () => moto?.stop());

  const crawls = async (name: string) => (await glue.send(new ListCrawlsCommand({ CrawlerName: name }))).Crawls ?? [];
  const catalog = () => new GlueCrawlerCatalog(glue, { pollIntervalMs: 100, maxWaitMs: 30_000 });

  it('starts the crawler, waits until READY and reports the last crawl', async () => {
    const request = awsRequest({ glue: { crawlerName: 'gold-crawler' } });
    const t0 = Date.now();
    const result = await catalog().refresh(request, firstChunk(request), goldTable(request));
    assert.ok(Date.now() - t0 >= 900, 'waited for the crawl to finish');
    assert.equal(result.backend, 'glue-crawler');
    assert.equal(result.status, 'COMPLETED'); // moto's word for SUCCEEDED
    assert.deepEqual(result.partitions, []); // moto's crawler does not create tables
    assert.equal((await glue.send(new GetCrawlerCommand({ Name: 'gold-crawler' }))).Crawler?.State, 'READY');
    assert.equal((await crawls('gold-crawler')).length, 1);
  });

  it('waits out a crawl started elsewhere (CrawlerRunningException), then runs its own', async () => {
    // Another worker starts the crawler right between our GetCrawler and StartCrawler.
    const other = motoClients(moto.endpoint).glue;
    let raced = false;
    glue.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'StartCrawlerCommand' && !raced) {
          raced = true;
          await other.send(new StartCrawlerCommand({ Name: 'busy-crawler' }));
        }
        return next(args);
      },
      { step: 'initialize', name: 'race', priority: 'high' },
    );
    const before = started.length;
    try {
      const request = awsRequest({ glue: { crawlerName: 'busy-crawler' } });
      await catalog().refresh(request, firstChunk(request), goldTable(request));
    } finally {
      glue.middlewareStack.remove('race');
    }
    const all = await crawls('busy-crawler');
    assert.equal(all.length, 2, 'the other crawl and ours');
    assert.ok(all.every((c) => c.State === 'COMPLETED'));
    assert.equal(started.length - before, 2, 'our first StartCrawler was refused, the second (after the wait) ran');
  });

  it('refreshes of one worker share crawls instead of fighting over the crawler', async () => {
    const request = awsRequest({
      startDate: '2025-10-01',
      endDate: '2025-10-06',
      chunkSizeDays: 2,
      glue: { crawlerName: 'shared-crawler' },
    });
    const shared = catalog();
    const chunks = planChunks(request.startDate, request.endDate, request.chunkSizeDays);
    const before = started.length;
    // The first starts a crawl; the two asking while it runs wait for it and share the one crawl after it.
    const first = shared.refresh(request, chunks[0], goldTable(request));
    await until(() => started.length - before === 1, 'the first crawl to start', { timeoutMs: 10_000, everyMs: 10 });
    const rest = chunks.slice(1).map((c) => shared.refresh(request, c, goldTable(request)));
    const results = await Promise.all([first, ...rest]);
    assert.ok(results.every((r) => r.status === 'COMPLETED'));
    assert.equal(started.length - before, 2, 'two crawls, no CrawlerRunningException');
    assert.equal((await crawls('shared-crawler')).length, 2);
    // Asked together before any crawl started: one crawl serves them all.
    const together = await Promise.all(chunks.map((c) => shared.refresh(request, c, goldTable(request))));
    assert.ok(together.every((r) => r.status === 'COMPLETED'));
    assert.equal((await crawls('shared-crawler')).length, 3);
  });

  it('a failed last crawl is an error naming the crawler and the message', async () => {
    const failing = motoClients(moto.endpoint).glue;
    // moto cannot fail a crawl; report the finished crawl as FAILED, as Glue would.
    failing.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        const out = result.output as GetCrawlerCommandOutput;
        if (context.commandName === 'GetCrawlerCommand' && out.Crawler?.State === 'READY' && out.Crawler.LastCrawl) {
          out.Crawler.LastCrawl = {
            ...out.Crawler.LastCrawl,
            Status: 'FAILED',
            ErrorMessage: 'Insufficient Lake Formation permission(s) on gold',
          };
        }
        return result;
      },
      { step: 'initialize', name: 'failCrawl' },
    );
    const request = awsRequest({ glue: { crawlerName: 'failing-crawler' } });
    await assert.rejects(
      new GlueCrawlerCatalog(failing, { pollIntervalMs: 100 }).refresh(
        request,
        firstChunk(request),
        goldTable(request),
      ),
      /Glue crawler failing-crawler crawl FAILED: Insufficient Lake Formation permission\(s\) on gold \(logs: \/aws-glue\/crawlers/,
    );
  });

  it('a missing crawler or crawler name is a final InvalidInput failure', async () => {
    const request = awsRequest({ glue: { crawlerName: 'no-such-crawler' } });
    await rejectsFinal(
      catalog().refresh(request, firstChunk(request), goldTable(request)),
      'InvalidInput',
      /glue\.crawlerName: crawler "no-such-crawler" does not exist/,
    );
    const noGlue = awsRequest({ glue: undefined });
    await rejectsFinal(
      catalog().refresh(noGlue, firstChunk(noGlue), goldTable(noGlue)),
      'InvalidInput',
      /glue\.crawlerName/,
    );
  });

  it('partitions mode: creates database and table, registers the chunk days that have gold files, idempotently', async () => {
    const request = awsRequest({ bucket: 'lake', startDate: '2025-10-01', endDate: '2025-10-03', chunkSizeDays: 3 });
    const chunk = firstChunk(request);
    const parquet = fs.readFileSync(GOLD_FIXTURE);
    for (const dt of ['2025-10-01', '2025-10-02']) {
      await s3.send(
        new PutObjectCommand({
          Bucket: 'lake',
          Key: `gold/card_features/feature_version=v1/dt=${dt}/part-0.parquet`,
          Body: parquet,
        }),
      );
    }
    // Outside the chunk, another version, and a day with only a marker: none of them registered.
    await s3.send(
      new PutObjectCommand({
        Bucket: 'lake',
        Key: 'gold/card_features/feature_version=v1/dt=2025-10-04/part-0.parquet',
        Body: parquet,
      }),
    );
    await s3.send(
      new PutObjectCommand({
        Bucket: 'lake',
        Key: 'gold/card_features/feature_version=v2/dt=2025-10-03/part-0.parquet',
        Body: parquet,
      }),
    );
    await s3.send(
      new PutObjectCommand({
        Bucket: 'lake',
        Key: 'gold/card_features/feature_version=v1/dt=2025-10-03/_SUCCESS',
        Body: Buffer.from(''),
      }),
    );

    const partitions = new GluePartitionCatalog(glue, new S3Lake(s3), {
      table: { database: 'features', table: 'card_features' },
    });
    const first = await partitions.refresh(request, chunk, goldTable(request));
    assert.deepEqual(first, {
      backend: 'glue-partitions',
      partitions: ['2025-10-01', '2025-10-02'],
      status: 'SUCCEEDED',
    });
    const again = await partitions.refresh(request, chunk, goldTable(request));
    assert.deepEqual(again.partitions, ['2025-10-01', '2025-10-02']);

    const table = (await glue.send(new GetTableCommand({ DatabaseName: 'features', Name: 'card_features' }))).Table!;
    assert.deepEqual(
      table.PartitionKeys?.map((k) => k.Name),
      ['feature_version', 'dt'],
    );
    assert.equal(table.StorageDescriptor?.Location, 's3://lake/gold/card_features/');
    assert.match(table.StorageDescriptor?.SerdeInfo?.SerializationLibrary ?? '', /ParquetHiveSerDe/);
  });

  /**
   * A day overwritten twice (run=older, run=old before, run=new current, committed as the Spark job
   * does), then the catalog step; returns the runs left under the crawled path for that day.
   */
  async function runsAfterCatalogStep(catalog: Catalog, dt: string): Promise<string[]> {
    const lake = new S3Lake(s3);
    const request = awsRequest({ bucket: 'lake', startDate: dt, endDate: dt, chunkSizeDays: 1 });
    const day = goldPartition(request, dt);
    for (const run of ['older', 'old', 'new']) {
      const Key = `${day}/run=${run}/part-0.parquet`.replace('s3://lake/', '');
      await s3.send(new PutObjectCommand({ Bucket: 'lake', Key, Body: fs.readFileSync(GOLD_FIXTURE) }));
    }
    const commit: GoldCommit = {
      dt,
      feature_version: 'v1',
      run_id: 'new',
      location: `${day}/run=new`,
      previous_location: `${day}/run=old`,
      files: [`${day}/run=new/part-0.parquet`],
      rows: 120,
      code_revision: 'test',
      fingerprint: 'test',
      committed_at: new Date(0).toISOString(),
    };
    await lake.writeText(goldCommitUri(request, dt), JSON.stringify(commit));
    const backends = { name: 'aws', lake, catalog } as unknown as Backends;
    const input = { request: { ...request, glue: { crawlerName: 'gold-crawler' } }, chunk: firstChunk(request) };
    await new MockActivityEnvironment().run(createActivities(backends).refreshCatalog, input);
    // What a crawler of s3://lake/gold/card_features/ finds for the day.
    const files = await lake.list('s3://lake/gold/card_features/feature_version=v1');
    return [...new Set(files.filter((f) => f.uri.includes(`dt=${dt}/`)).map((f) => /run=(\w+)/.exec(f.uri)![1]))];
  }

  it('crawler mode: after an overwrite, what the crawler crawls holds the current run only (no rollback copy)', async () => {
    const crawler = new GlueCrawlerCatalog(glue, { pollIntervalMs: 100, maxWaitMs: 30_000 });
    assert.deepEqual(await runsAfterCatalogStep(crawler, '2025-11-01'), ['new']);
    // Partitions mode points the partition at one run: the run before stays beside it for rollback.
    const partitions = new GluePartitionCatalog(glue, new S3Lake(s3));
    assert.deepEqual(await runsAfterCatalogStep(partitions, '2025-11-02'), ['new', 'old']);
  });
});
