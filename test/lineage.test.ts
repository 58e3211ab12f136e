/**
 * Lineage and staleness on a lake built by the real Spark job (one spark-submit): the TypeScript
 * fingerprint equals the job's, `backfill lineage` prints what a day was built from, `backfill check`
 * finds days whose bronze changed or that were never built, `--only-stale` narrows a run to them, and
 * the preflight guard refuses adding days of a version built with another fingerprint unless accepted.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../src/activities';
import { buildFingerprint, currentFingerprints } from '../src/activities/ledger/fingerprint';
import { goldCommitUri, type GoldCommit } from '../src/activities/ledger/records';
import { createLocalBackends } from '../src/activities/local';
import { LocalLake } from '../src/activities/local/lake';
import { main } from '../src/client/cli';
import { onlyStaleInput } from '../src/client/commands/only-stale';
import { parseRunArgs } from '../src/client/run-args';
import { defaultFeatureGroup, FEATURE_VERSION_PATTERN } from '../src/common/feature-versions';
import { validateInput } from '../src/common/input';
import { planChunks } from '../src/common/plan';
import { summarizeChunk, type ChunkManifest, type SparkJobResult } from '../src/common/results';
import { totalsOf } from './support/totals';
import { formatReport } from '../src/client/report';
import { fakeIo } from './cli/support';
import { makeSampleLake, requestFor } from './support/lake';
import { ROOT, VENV_BIN } from './support/temporal';

const DAYS = ['2025-10-01', '2025-10-02', '2025-10-03'];
const NEXT = '2025-10-04';

describe('lineage, stale days and the definition-change guard', function () {
  this.timeout(240_000);
  let lake: string;
  let state: string;
  let activities: ReturnType<typeof createActivities>;
  const local = new LocalLake();
  const request = (extra: Record<string, unknown> = {}) =>
    validateInput({ bucket: lake, startDate: NEXT, endDate: NEXT, allowIncompleteDays: true, ...extra });
  const commitOf = async (dt: string) =>
    JSON.parse((await local.readText(goldCommitUri(requestFor(lake), dt)))!) as GoldCommit;

  before(async () => {
    lake = makeSampleLake({ start: DAYS[0], days: DAYS.length, eventsPerDay: 60, cards: 8, seed: 3 });
    state = fs.mkdtempSync(path.join(os.tmpdir(), 'backfill-lineage-'));
    activities = createActivities(
      createLocalBackends({
        venvBin: VENV_BIN,
        jobDir: path.join(ROOT, 'spark_jobs'),
        stateDir: state,
        pollIntervalMs: 300,
      }),
    );
    const built = validateInput({ bucket: lake, startDate: DAYS[0], endDate: DAYS[2], chunkSizeDays: 3 });
    const [chunk] = planChunks(DAYS[0], DAYS[2], 3);
    const result = (await new MockActivityEnvironment().run(activities.runSparkJob, {
      request: built,
      chunk,
      runName: 'lineage/chunk',
      runId: 'lineage-run',
    })) as SparkJobResult;
    assert.deepEqual(result.manifest.written_partitions, DAYS);
  });

  after(() => {
    fs.rmSync(lake, { recursive: true, force: true });
    fs.rmSync(state, { recursive: true, force: true });
  });

  it('computes the same build fingerprint as the Spark job, which every gold commit records', async () => {
    const python = execFileSync(
      path.join(VENV_BIN, 'python'),
      [
        '-c',
        'from card_features.definitions import get_definition as g; print(g("v1").build_fingerprint, g("v2").build_fingerprint)',
      ],
      {
        cwd: path.join(ROOT, 'spark_jobs'),
        encoding: 'utf8',
      },
    ).trim();
    assert.equal(python, `${buildFingerprint('v1')} ${buildFingerprint('v2')}`);
    for (const dt of DAYS) assert.equal((await commitOf(dt)).fingerprint, buildFingerprint('v1'));
  });

  it('backfill lineage prints the bronze files, code revision, fingerprint and Spark settings of a day', async () => {
    const io = fakeIo();
    assert.equal(await main(['lineage', '--date', DAYS[1], '--bucket', lake], io), 0, io.stderr());
    const text = io.stdout();
    const bronze = path.join(lake, 'bronze', 'streaming', 'card_authorization');
    for (const dt of ['2025-10-01', '2025-10-02', '2025-10-03']) {
      for (const name of fs.readdirSync(path.join(bronze, `dt=${dt}`)).filter((n) => !n.startsWith('.'))) {
        const size = fs.statSync(path.join(bronze, `dt=${dt}`, name)).size;
        assert.ok(
          text.includes(`file://${path.join(bronze, `dt=${dt}`, name)}  ${size} bytes`),
          `${dt}/${name} in\n${text}`,
        );
      }
    }
    assert.match(text, new RegExp(`fingerprint +${buildFingerprint('v1')} \\(current\\)`));
    assert.match(text, /bronze partitions 2025-10-01, 2025-10-02, 2025-10-03/);
    assert.match(text, /spark\.sql\.session\.timeZone=UTC/);
    assert.match(text, /run lineage-run/);

    const json = fakeIo();
    assert.equal(await main(['lineage', '--date', DAYS[1], '--bucket', lake, '--json'], json), 0);
    assert.deepEqual(JSON.parse(json.stdout()), await commitOf(DAYS[1]));
    const missing = fakeIo();
    assert.equal(await main(['lineage', '--date', NEXT, '--bucket', lake], missing), 1);
    assert.match(missing.stderr(), /no gold commit for v1 2025-10-04/);
  });

  it('backfill check lists a never-built day, then the days whose bronze changed after the build; --only-stale narrows the run to them', async () => {
    const args = ['check', '--bucket', lake, '--start-date', DAYS[0], '--end-date', NEXT, '--json'];
    let io = fakeIo();
    assert.equal(await main(args, io), 1, io.stderr());
    assert.deepEqual(JSON.parse(io.stdout()).stale, [NEXT], 'only the never-built day, the built ones are current');

    // An upstream correction rewrites a file of 10-03: the days whose windows read it become stale
    // (10-02 reads it as its lateness day, 10-03 as its own); 10-01 does not read it.
    const dir = path.join(lake, 'bronze', 'streaming', 'card_authorization', 'dt=2025-10-03');
    const file = path.join(dir, fs.readdirSync(dir).filter((n) => !n.startsWith('.'))[0]);
    fs.writeFileSync(file, Buffer.concat([fs.readFileSync(file), fs.readFileSync(file)]));
    io = fakeIo();
    assert.equal(await main(args, io), 1);
    const out = JSON.parse(io.stdout()) as {
      stale: string[];
      days: { dt: string; reasons: string[]; details: string[] }[];
    };
    assert.deepEqual(out.stale, [DAYS[1], DAYS[2], NEXT]);
    assert.deepEqual(
      out.days.map((d) => [d.dt, d.reasons]),
      [
        [DAYS[0], []],
        [DAYS[1], ['bronze_changed']],
        [DAYS[2], ['bronze_changed']],
        [NEXT, ['never_built']],
      ],
    );
    assert.match(
      out.days[1].details[0],
      new RegExp(`changed dt=2025-10-03/${path.basename(file)} \\(size \\d+ -> \\d+\\)`),
    );

    const text = fakeIo();
    await main(args.slice(0, -1), text);
    assert.match(text.stdout(), /3 of 4 day\(s\) stale/);
    assert.match(text.stdout(), /2025-10-02 {2}bronze_changed/);

    const opts = parseRunArgs([
      '--bucket',
      lake,
      '--start-date',
      DAYS[0],
      '--end-date',
      NEXT,
      '--only-stale',
      '--dry-run',
      '--allow-incomplete-days',
    ]);
    assert.equal(opts.onlyStale, true);
    const log = fakeIo();
    const narrowed = await onlyStaleInput(validateInput(opts.input), opts.input, log, {});
    assert.deepEqual(narrowed?.onlyChunks, [`${DAYS[1]}_${DAYS[1]}`, `${DAYS[2]}_${DAYS[2]}`, `${NEXT}_${NEXT}`]);
    assert.equal(narrowed?.chunkSizeDays, 1);
    assert.equal(narrowed?.overwrite, true, 'the changed days have gold to replace');
    assert.match(log.stderr(), /would rebuild 2025-10-02, 2025-10-03, 2025-10-04 \(overwrite\)/);
    // The narrowed input is a valid backfill input.
    assert.deepEqual(validateInput(narrowed).onlyChunks, narrowed?.onlyChunks);
  });

  it('preflight refuses adding days of a version built with another fingerprint, naming them, unless accepted', async () => {
    const env = new MockActivityEnvironment();
    assert.deepEqual(
      await env.run(activities.preflight, request()),
      { backend: 'local', publication: { sparkPublish: true } },
      'same fingerprint everywhere: passes',
    );

    // 10-01 and 10-02 as if built by an earlier transform: another fingerprint in their commits.
    for (const dt of DAYS.slice(0, 2)) {
      await local.writeText(
        goldCommitUri(requestFor(lake), dt),
        JSON.stringify({ ...(await commitOf(dt)), fingerprint: 'aaaaaaaaaaaa' }),
      );
    }
    const err = await env.run(activities.preflight, request()).then(
      () => assert.fail('expected a refusal'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, 'InvalidInput');
    assert.equal(err.nonRetryable, true);
    const current = buildFingerprint('v1');
    assert.match(err.message, /^invalid input: acceptDefinitionChange: feature version v1 would mix definitions/);
    assert.match(err.message, /fingerprint aaaaaaaaaaaa \(2 days: 2025-10-01\.\.2025-10-02\)/);
    assert.ok(err.message.includes(`builds with fingerprint ${current}`), err.message);

    // backfill check names them too.
    const io = fakeIo();
    await main(['check', '--bucket', lake, '--start-date', DAYS[0], '--end-date', DAYS[0], '--json'], io);
    const [day] = JSON.parse(io.stdout()).days as { reasons: string[]; details: string[] }[];
    assert.deepEqual(day.reasons, ['fingerprint_changed']);
    assert.deepEqual(day.details, [`built with fingerprint aaaaaaaaaaaa, current ${current}`]);

    assert.deepEqual(await env.run(activities.preflight, request({ acceptDefinitionChange: true })), {
      backend: 'local',
      publication: { sparkPublish: true },
    });
    // A run that adds nothing (every day kept) mixes nothing: not refused.
    assert.deepEqual(
      await env.run(activities.preflight, validateInput({ bucket: lake, startDate: DAYS[2], endDate: DAYS[2] })),
      { backend: 'local', publication: { sparkPublish: true } },
    );
    // A commit from before the build fingerprint (definition hash only) of the current definition is no change.
    for (const dt of DAYS.slice(0, 2)) {
      const { definition_fingerprint: _, ...legacy } = await commitOf(dt);
      await local.writeText(
        goldCommitUri(requestFor(lake), dt),
        JSON.stringify({ ...legacy, fingerprint: currentFingerprints('v1').definition }),
      );
    }
    assert.deepEqual(await env.run(activities.preflight, request()), {
      backend: 'local',
      publication: { sparkPublish: true },
    });
  });

  it('version names such as v1.1 and v1_corrected are accepted, with a valid default feature group; the CLI takes the new flags', () => {
    for (const v of ['v1', 'v1.1', 'v1_corrected', 'v2.1_fix']) assert.ok(FEATURE_VERSION_PATTERN.test(v), v);
    for (const v of ['v1.', 'v1__x', 'V1', 'v1-x']) assert.ok(!FEATURE_VERSION_PATTERN.test(v), v);
    assert.equal(defaultFeatureGroup('v1_corrected'), 'rt_card_features_v1_corrected');
    assert.equal(defaultFeatureGroup('v2.1.3'), 'rt_card_features_v2_1_3');
    assert.throws(
      () =>
        validateInput({ bucket: '/l', startDate: '2025-10-01', endDate: '2025-10-01', featureVersion: 'v1_corrected' }),
      /"v1_corrected" is not defined; defined versions: v1, v2/,
    );
    assert.equal(
      parseRunArgs([
        '--bucket',
        '/l',
        '--start-date',
        '2025-10-01',
        '--end-date',
        '2025-10-01',
        '--accept-definition-change',
      ]).input.acceptDefinitionChange,
      true,
    );
    assert.throws(
      () =>
        validateInput({ bucket: '/l', startDate: '2025-10-01', endDate: '2025-10-01', acceptDefinitionChange: 'yes' }),
      /acceptDefinitionChange: must be true or false/,
    );
  });

  it('the report of a run that accepted a definition change says so, naming the days rebuilt over the old one', () => {
    const [chunk] = planChunks(DAYS[0], DAYS[1], 2);
    const manifest = {
      output_rows_per_dt: {},
      accepted_definition_change: {
        fingerprint: 'bbbbbbbbbbbb',
        replaced: { [DAYS[1]]: 'aaaaaaaaaaaa', [DAYS[0]]: 'aaaaaaaaaaaa' },
      },
    } as unknown as ChunkManifest;
    const summary = summarizeChunk({ chunk, status: 'succeeded', spark: { manifest, jobRunId: 'j' } }, { attempts: 1 });
    const chunks = [summary];
    const text = formatReport({
      workflowId: 'w',
      status: 'succeeded',
      featureGroup: 'g',
      featureVersion: 'v1',
      startDate: DAYS[0],
      endDate: DAYS[1],
      chunks,
      totals: totalsOf(chunks),
      startedAt: 0,
      finishedAt: 1,
    });
    assert.match(
      text,
      /Definition change accepted \(--accept-definition-change\): gold built with fingerprint bbbbbbbbbbbb; rebuilt over gold of another definition: 2025-10-01 \(was aaaaaaaaaaaa\), 2025-10-02 \(was aaaaaaaaaaaa\)/,
    );
    const plain = formatReport({
      workflowId: 'w',
      status: 'succeeded',
      featureGroup: 'g',
      featureVersion: 'v1',
      startDate: DAYS[0],
      endDate: DAYS[1],
      chunks: [{ ...summary, definitionChange: undefined }],
      totals: totalsOf(chunks),
      startedAt: 0,
      finishedAt: 1,
    });
    assert.doesNotMatch(plain, /Definition change/);
  });
});
