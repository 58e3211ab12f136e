/**
 * Conditional writes of the local lake (docs/design.md, "Conditional ledger writes"): the lock-file compare-and-swap with md5 etags that
 * the Python job's LakeFs shares, so two writers of one ledger record cannot both win.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LedgerConflictError } from '../src/activities/backends';
import { catalogUri, LocalCatalog, type CatalogFile } from '../src/activities/local/catalog';
import { breakStale, isStale, ownerOf, releaseLock, tryLock } from '../src/activities/local/file-cas';
import { LocalLake } from '../src/activities/local/lake';
import { goldPartition } from '../src/activities/lake-paths';
import { goldCommitUri, type GoldCommit } from '../src/activities/ledger/records';
import { planChunks } from '../src/common/plan';
import { requestFor } from './support/lake';
import { until } from './support/until';

const md5 = (text: string) => createHash('md5').update(text).digest('hex');

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await new Promise((r) => child.once('exit', r));
  return child.pid!;
}

describe('local lake: conditional writes', function () {
  let dir: string;
  const lake = new LocalLake();
  const uri = () => `file://${dir}/_ledger/publication/g/feature_version=v1/dt=2025-10-01.json`;
  const lockFile = () => path.join(dir, '_ledger/publication/g/feature_version=v1/.dt=2025-10-01.json.lock');

  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lake-cas-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('creates only if absent, replaces only the version read; the etag is the md5 of the bytes', async () => {
    const first = await lake.writeTextIf(uri(), 'v0', { ifNoneMatch: '*' });
    assert.equal(first, md5('v0'));
    assert.deepEqual(await lake.readTextWithEtag(uri()), { text: 'v0', etag: md5('v0') });
    await assert.rejects(lake.writeTextIf(uri(), 'again', { ifNoneMatch: '*' }), LedgerConflictError);
    await assert.rejects(
      lake.writeTextIf(uri(), 'v1', { ifMatch: md5('other') }),
      (err: LedgerConflictError) => err.name === 'LedgerConflict' && err.found === md5('v0') && err.uri === uri(),
    );
    assert.equal(await lake.writeTextIf(uri(), 'v1', { ifMatch: first }), md5('v1'));
    assert.equal(await lake.readText(uri()), 'v1');
    assert.equal(await lake.readTextWithEtag(`file://${dir}/missing.json`), undefined);
    // Locks and temporary files are hidden and gone.
    assert.deepEqual(fs.readdirSync(path.dirname(lockFile())), ['dt=2025-10-01.json']);
  });

  it('two writers racing on one record: one wins, one LedgerConflict, the record is the winner’s', async () => {
    const base = await lake.writeTextIf(uri(), 'base', { ifNoneMatch: '*' });
    for (let round = 0; round < 20; round++) {
      const read = (await lake.readTextWithEtag(uri()))!;
      const outcomes = await Promise.allSettled(
        ['A', 'B'].map((w) => lake.writeTextIf(uri(), `${w}${round}`, { ifMatch: read.etag })),
      );
      const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [['A', 'B'][i]] : []));
      const lost = outcomes.filter((o) => o.status === 'rejected');
      assert.equal(won.length, 1, `round ${round}: ${JSON.stringify(outcomes)}`);
      assert.ok(lost.every((o) => (o as PromiseRejectedResult).reason instanceof LedgerConflictError));
      assert.equal(await lake.readText(uri()), `${won[0]}${round}`);
    }
    assert.notEqual(base, (await lake.readTextWithEtag(uri()))!.etag);
    // Creating at once: one create wins too.
    const fresh = `file://${dir}/_ledger/gold/dt=2025-10-02.json`;
    const creates = await Promise.allSettled(['A', 'B'].map((w) => lake.writeTextIf(fresh, w, { ifNoneMatch: '*' })));
    assert.deepEqual(creates.map((o) => o.status).sort(), ['fulfilled', 'rejected']);
  });

  it('breaks the stale lock of a dead pid, and of a reused pid (another start time)', async () => {
    await lake.writeTextIf(uri(), 'v0', { ifNoneMatch: '*' });
    const child = spawn('true');
    const pid = child.pid!;
    await new Promise((r) => child.once('exit', r));
    fs.writeFileSync(lockFile(), JSON.stringify({ pid, start: 1, host: os.hostname() }));
    const t0 = Date.now();
    await lake.writeTextIf(uri(), 'v1', { ifMatch: md5('v0') });
    assert.ok(Date.now() - t0 < 5000, 'did not wait for the bound');
    assert.equal(await lake.readText(uri()), 'v1');

    // This process's pid with another start time: the pid was reused by us, the lock's owner is gone.
    const me = ownerOf(process.pid);
    assert.ok(me.start !== null, '/proc gives the start time');
    fs.writeFileSync(lockFile(), JSON.stringify({ ...me, start: me.start! - 1 }));
    await lake.writeTextIf(uri(), 'v2', { ifMatch: md5('v1') });
    assert.equal(await lake.readText(uri()), 'v2');
    assert.equal(fs.existsSync(lockFile()), false);
  });

  it('waits for the lock of a live process, and writes once it is released', async () => {
    await lake.writeTextIf(uri(), 'v0', { ifNoneMatch: '*' });
    fs.writeFileSync(lockFile(), JSON.stringify(ownerOf(process.pid)));
    let settled = false;
    const write = lake.writeTextIf(uri(), 'v1', { ifMatch: md5('v0') }).finally(() => (settled = true));
    // Still held: the record is unchanged and the write is pending while the lock's owner lives.
    await until(() => fs.statSync(lockFile()).mtimeMs < Date.now() - 300, 'the lock to be 300 ms old', {
      timeoutMs: 5000,
      everyMs: 20,
    });
    assert.equal(settled, false);
    assert.equal(await lake.readText(uri()), 'v0');
    fs.rmSync(lockFile());
    assert.equal(await write, md5('v1'));
    assert.equal(await lake.readText(uri()), 'v1');
  });

  it('a stale lock broken by two writers at once: exactly one proceeds, and no third one', async () => {
    await lake.writeTextIf(uri(), 'v0', { ifNoneMatch: '*' });
    const stale = JSON.stringify({ pid: await deadPid(), start: 1, host: os.hostname() });
    fs.writeFileSync(lockFile(), stale);
    const [a, b, c] = ['a', 'b', 'c'].map((who) => JSON.stringify({ ...ownerOf(process.pid), who }));
    // A and B both read the dead owner's lock and judge it stale.
    assert.equal(isStale(stale), true);
    // B breaks it first and takes the lock.
    await breakStale(lockFile(), stale, b);
    assert.equal(await tryLock(lockFile(), b), true);
    // A, late, breaks what it judged stale: B's live lock stays; neither A nor a third writer takes it.
    await breakStale(lockFile(), stale, a);
    assert.equal(await tryLock(lockFile(), a), false);
    assert.equal(await tryLock(lockFile(), c), false);
    assert.equal(fs.readFileSync(lockFile(), 'utf8'), b);
    assert.deepEqual(fs.readdirSync(path.dirname(lockFile())).sort(), [
      '.dt=2025-10-01.json.lock',
      'dt=2025-10-01.json',
    ]);
  });

  it('while a live writer holds the break token, another leaves the stale lock alone', async () => {
    fs.mkdirSync(path.dirname(lockFile()), { recursive: true });
    const pid = await deadPid();
    const stale = JSON.stringify({ pid, start: 1, host: os.hostname() });
    fs.writeFileSync(lockFile(), stale);
    const [a, b] = ['a', 'b'].map((who) => JSON.stringify({ ...ownerOf(process.pid), who }));
    const token = `${lockFile()}.break.${pid}.1`;
    assert.equal(await tryLock(token, b), true); // B is between taking the token and checking the lock
    await breakStale(lockFile(), stale, a);
    assert.equal(fs.readFileSync(lockFile(), 'utf8'), stale);
    assert.equal(fs.readFileSync(token, 'utf8'), b);
  });

  it('release never removes another writer’s lock', async () => {
    fs.mkdirSync(path.dirname(lockFile()), { recursive: true });
    const [mine, other] = ['me', 'other'].map((who) => JSON.stringify({ ...ownerOf(process.pid), who }));
    assert.equal(await tryLock(lockFile(), mine), true);
    // Meanwhile the lock was broken and retaken by another writer: releasing must leave that one.
    fs.rmSync(lockFile());
    assert.equal(await tryLock(lockFile(), other), true);
    await releaseLock(lockFile(), mine);
    assert.equal(fs.readFileSync(lockFile(), 'utf8'), other);
    await releaseLock(lockFile(), other);
    assert.equal(fs.existsSync(lockFile()), false);
  });

  it('a breaker that died holding its token is broken too; another host’s lock is never stale', async () => {
    await lake.writeTextIf(uri(), 'v0', { ifNoneMatch: '*' });
    const pid = await deadPid();
    fs.writeFileSync(lockFile(), JSON.stringify({ pid, start: 1, host: os.hostname() }));
    const token = `${lockFile()}.break.${pid}.1`;
    fs.writeFileSync(token, JSON.stringify({ pid: await deadPid(), start: 1, host: os.hostname() }));
    await lake.writeTextIf(uri(), 'v1', { ifMatch: md5('v0') });
    assert.deepEqual(fs.readdirSync(path.dirname(lockFile())), ['dt=2025-10-01.json']);
    assert.equal(isStale(JSON.stringify({ pid, start: 1, host: 'elsewhere' })), false);
  });

  it('Node and Python writers on one counter, through a stale lock: no lost update', async function () {
    this.timeout(60_000);
    const counter = `file://${dir}/_ledger/counter.json`;
    await lake.writeTextIf(counter, JSON.stringify({ n: 0 }), { ifNoneMatch: '*' });
    // All start by racing to break a dead writer's lock.
    fs.writeFileSync(
      path.join(dir, '_ledger/.counter.json.lock'),
      JSON.stringify({ pid: await deadPid(), start: 1, host: os.hostname() }),
    );
    const cycles = 15;
    const writers = ['node-1', 'node-2', 'node-3', 'py-1', 'py-2', 'py-3'].map((name) => {
      const [cmd, script] = name.startsWith('node')
        ? [process.execPath, ['-r', 'ts-node/register/transpile-only', 'test/support/cas-counter.ts']]
        : ['.venv/bin/python', ['spark_jobs/tests/cas_counter.py']];
      const child = spawn(cmd, [...script, dir, counter, String(cycles), name], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      return new Promise<number>((resolve, reject) =>
        child.once('exit', (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`${name} exited ${code}`)))),
      );
    });
    await until(() => fs.readdirSync(dir).filter((f) => f.startsWith('ready.')).length === 6, 'all writers ready', {
      timeoutMs: 45_000,
      everyMs: 20,
    });
    fs.writeFileSync(path.join(dir, 'go'), '');
    const written = await Promise.all(writers);
    assert.deepEqual(written, Array(6).fill(cycles));
    assert.deepEqual(JSON.parse((await lake.readText(counter))!), { n: 6 * cycles });
    assert.deepEqual(fs.readdirSync(path.join(dir, '_ledger')), ['counter.json']);
  });

  it('the local catalog: two workers refreshing at once both land (the file is replaced only as read)', async () => {
    const request = requestFor(dir);
    const days = ['2025-10-01', '2025-10-02', '2025-10-03', '2025-10-04', '2025-10-05', '2025-10-06'];
    for (const dt of days) {
      const location = `${goldPartition(request, dt)}/run=r1`;
      const commit = { dt, run_id: 'r1', location, files: [`${location}/part-0.parquet`], rows: 10 };
      await lake.writeText(goldCommitUri(request, dt), JSON.stringify(commit as GoldCommit));
    }
    // One catalog object per worker: each serialises its own refreshes only.
    const chunks = planChunks(days[0], days.at(-1)!, 1);
    await Promise.all(chunks.map((c) => new LocalCatalog(lake).refresh(request, c, 'file:///gold')));
    const file = JSON.parse((await lake.readText(catalogUri(dir)))!) as CatalogFile;
    assert.deepEqual(
      file.tables['gold.card_features'].partitions.map((p) => p.dt),
      days,
    );
  });
});
