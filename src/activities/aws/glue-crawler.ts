/**
 * The Glue Data Catalog by crawler (BACKFILL_CATALOG_MODE=crawler): run the request's crawler (as
 * the Step Functions pipeline did). One crawler can run once at a time, so refreshes of one worker
 * share a queue, and a crawl started elsewhere is waited for, then ours is started (the running one
 * may have listed S3 before our files landed).
 */
import { GetCrawlerCommand, GlueClient, StartCrawlerCommand, type Crawler } from '@aws-sdk/client-glue';
import { ApplicationFailure } from '@temporalio/activity';
import type { BackfillRequest } from '../../common/input';
import type { ChunkSpec } from '../../common/plan';
import type { CatalogResult } from '../../common/results';
import type { Catalog } from '../backends';
import { awsErrorName, classifyAwsError } from './errors';
import { FAILURE } from '../../common/failures';
import { chunkPartitions, DEFAULT_GOLD_TABLE, type GlueTableName } from './glue';

/**
 * A catalog that derives partitions from every directory under the gold table (a Glue crawler)
 * names itself so in CatalogResult.backend: it would serve a rollback copy kept there as data.
 */
export const CRAWLED_CATALOG_BACKEND = 'glue-crawler';

export interface CrawlerCatalogOptions {
  /** How often GetCrawler is polled while a crawl runs. */
  pollIntervalMs?: number;
  /** How long one refresh may wait for crawls (others' and ours) before giving up. */
  maxWaitMs?: number;
  /** Where the crawler puts the gold table; default: the crawler's database, table card_features. */
  table?: Partial<GlueTableName>;
  sleep?: (ms: number) => Promise<void>;
}

// A crawl takes about a minute at best; polling every 15 s costs little and adds little delay.
const DEFAULT_CRAWLER_POLL_MS = 15_000;
// Below the catalog activity's 1-hour start-to-close timeout, so we fail with a message first.
const DEFAULT_CRAWLER_MAX_WAIT_MS = 50 * 60_000;

interface CrawlOutcome {
  status: string;
  crawler: Crawler;
}

export class GlueCrawlerCatalog implements Catalog {
  /** A crawler makes a table partition of every directory it finds under the gold table. */
  readonly readsEveryDirectory = true;
  private readonly queues = new Map<string, CrawlQueue>();

  constructor(
    private readonly client: GlueClient,
    private readonly options: CrawlerCatalogOptions = {},
  ) {}

  async refresh(request: BackfillRequest, chunk: ChunkSpec, _goldTableUri: string): Promise<CatalogResult> {
    const crawlerName = request.glue?.crawlerName;
    if (!crawlerName) {
      throw ApplicationFailure.nonRetryable(
        'glue.crawlerName: required when BACKFILL_CATALOG_MODE=crawler',
        FAILURE.invalidInput,
      );
    }
    let queue = this.queues.get(crawlerName);
    if (!queue) {
      queue = new CrawlQueue(() => this.crawl(crawlerName));
      this.queues.set(crawlerName, queue);
    }
    const outcome = await queue.run();
    const table = {
      database: this.options.table?.database ?? outcome.crawler.DatabaseName ?? DEFAULT_GOLD_TABLE.database,
      table: this.options.table?.table ?? `${outcome.crawler.TablePrefix ?? ''}${DEFAULT_GOLD_TABLE.table}`,
    };
    const partitions = await chunkPartitions(this.client, table, request.featureVersion, chunk);
    return { backend: CRAWLED_CATALOG_BACKEND, partitions: partitions ?? [], status: outcome.status };
  }

  /** One crawl of ours, from start to end: waits out a crawl already running, starts, waits, reports. */
  private async crawl(name: string): Promise<CrawlOutcome> {
    const deadline = Date.now() + (this.options.maxWaitMs ?? DEFAULT_CRAWLER_MAX_WAIT_MS);
    let before = await this.getCrawler(name);
    for (;;) {
      if (before.State !== 'READY') before = await this.waitUntilReady(name, deadline, undefined);
      try {
        await this.client.send(new StartCrawlerCommand({ Name: name }));
        break;
      } catch (err) {
        // Another worker (or the crawler's schedule) started it since we looked: wait for that crawl to end, then start ours.
        if (awsErrorName(err) === 'CrawlerRunningException') {
          before = await this.waitUntilReady(name, deadline, undefined);
          continue;
        }
        throw classifyAwsError(err, `Glue StartCrawler ${name}`);
      }
    }
    const done = await this.waitUntilReady(name, deadline, crawlKey(before));
    const last = done.LastCrawl;
    const status = last?.Status ?? 'UNKNOWN';
    if (status === 'FAILED' || status === 'CANCELLED') {
      const where = last?.LogGroup ? ` (logs: ${last.LogGroup}/${last.LogStream ?? ''})` : '';
      // Retryable: a failed crawl is often a transient S3 or permission hiccup; the activity retry policy bounds it.
      throw new Error(`Glue crawler ${name} crawl ${status}: ${last?.ErrorMessage ?? 'no error message'}${where}`);
    }
    return { status, crawler: done };
  }

  /** Polls until the crawler is READY (and, if given, its last crawl is a different one than `previousKey`). */
  private async waitUntilReady(name: string, deadline: number, previousKey: string | undefined): Promise<Crawler> {
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    for (;;) {
      const crawler = await this.getCrawler(name);
      const newCrawl = previousKey === undefined || crawlKey(crawler) !== previousKey;
      if (crawler.State === 'READY' && newCrawl) return crawler;
      if (Date.now() > deadline) {
        throw new Error(
          `Glue crawler ${name} still ${crawler.State}${newCrawl ? '' : ' without reporting our crawl'} after waiting ${Math.round((this.options.maxWaitMs ?? DEFAULT_CRAWLER_MAX_WAIT_MS) / 1000)} s`,
        );
      }
      await sleep(this.options.pollIntervalMs ?? DEFAULT_CRAWLER_POLL_MS);
    }
  }

  private async getCrawler(name: string): Promise<Crawler> {
    try {
      const out = await this.client.send(new GetCrawlerCommand({ Name: name }));
      if (!out.Crawler) throw new Error(`Glue GetCrawler ${name} returned no crawler`);
      return out.Crawler;
    } catch (err) {
      if (awsErrorName(err) === 'EntityNotFoundException') {
        throw ApplicationFailure.nonRetryable(
          `glue.crawlerName: crawler "${name}" does not exist`,
          FAILURE.invalidInput,
        );
      }
      throw classifyAwsError(err, `Glue GetCrawler ${name}`);
    }
  }
}

/** Identifies a crawl, to tell "the crawl we started has ended" from "the previous one had". */
function crawlKey(crawler: Crawler): string {
  const last = crawler.LastCrawl;
  return last ? `${last.StartTime?.getTime() ?? ''}|${last.MessagePrefix ?? ''}` : 'none';
}

/**
 * Coalesces refreshes of one crawler in this worker: at most one crawl of ours runs, and every
 * refresh asked for while it runs shares the single crawl started after it (which sees all their files).
 */
class CrawlQueue {
  private running?: Promise<CrawlOutcome>;
  private next?: Promise<CrawlOutcome>;

  constructor(private readonly crawlOnce: () => Promise<CrawlOutcome>) {}

  run(): Promise<CrawlOutcome> {
    if (this.next) return this.next;
    const previous = this.running ?? Promise.resolve();
    const mine: Promise<CrawlOutcome> = previous
      .catch(() => undefined)
      .then(() => {
        // From here on this crawl is running: later callers queue behind it.
        this.next = undefined;
        this.running = mine;
        return this.crawlOnce();
      })
      .finally(() => {
        if (this.running === mine) this.running = undefined;
      });
    this.next = mine;
    return mine;
  }
}
