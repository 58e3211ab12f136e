/**
 * The build fingerprint of a feature version, computed exactly as the Spark job computes it
 * (spark_jobs/card_features/definitions.py, build_fingerprint): sha256 of the version's canonical
 * definition JSON (Python's `json.dumps(..., sort_keys=True)`), a newline, then one
 * `<file>:<declared sha256>` line per code file (CODE_FILES); the first 12 hex digits.
 *
 * The digests are those definitions.json's "transform" block declares, not the files' live bytes:
 * revision 1 declares the code as released, so lakes built since keep their fingerprint while the
 * code changes without changing outputs (spark_jobs/tests/test_golden_output.py holds it to them);
 * a revision that changes outputs replaces the block, and so every version's fingerprint, on purpose.
 * Both sides read the same definitions.json: the worker (or CLI) from its own spark_jobs/ folder, the
 * job from its package (deploy-job zips that same folder for EMR Serverless, unchanged). Each gold
 * commit records the job's own value, so a worker whose spark_jobs/ declares another revision than the
 * deployed code is noticed: its fingerprint differs from the days built with that code.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { localPaths } from '../../config';

/** The transform code every version runs (definitions.py CODE_FILES, same order). */
const CODE_FILES = ['definitions.py', 'transform.py'] as const;

/** The card_features package folder: BACKFILL_JOB_DIR's, else this checkout's spark_jobs/. */
function packageDir(env = process.env): string {
  return path.join(env.BACKFILL_JOB_DIR ?? localPaths(env).jobDir, 'card_features');
}

interface Definitions {
  windows_seconds: unknown;
  versions: Record<string, unknown>;
  transform?: { code?: Record<string, unknown> };
}

/** The current build fingerprint of `version`, from definitions.json in `dir` (the card_features package). */
export function buildFingerprint(version: string, dir = packageDir()): string {
  const raw = JSON.parse(fs.readFileSync(path.join(dir, 'definitions.json'), 'utf8')) as Definitions;
  const entry = raw.versions[version];
  if (entry === undefined) throw new Error(`feature version ${version} is not defined in ${dir}/definitions.json`);
  const code = declaredCode(raw, dir);
  const lines = [
    pythonJson({ windows: raw.windows_seconds, version: entry }),
    ...CODE_FILES.map((n) => `${n}:${code[n]}`),
  ];
  return createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 12);
}

/** The transform block's declared sha256 per code file (definitions.py transform_block, same checks). */
function declaredCode(raw: Definitions, dir: string): Record<string, string> {
  const code = raw.transform?.code;
  const names = Object.keys(code ?? {}).sort();
  const wellFormed =
    code !== undefined &&
    names.join(',') === [...CODE_FILES].sort().join(',') &&
    names.every((n) => typeof code[n] === 'string' && /^[0-9a-f]{64}$/.test(code[n]));
  if (!wellFormed)
    throw new Error(
      `${dir}/definitions.json: "transform" must declare {"code": {<file>: <sha256 hex>}} for exactly ${CODE_FILES.join(', ')}`,
    );
  return code as Record<string, string>;
}

/** Both fingerprints of a version from this worker's spark_jobs/ (definition-change guard, staleness). */
export function currentFingerprints(version: string, dir = packageDir()): { build: string; definition: string } {
  return { build: buildFingerprint(version, dir), definition: definitionFingerprint(version, dir) };
}

/** The definition-only hash (definitions.py FeatureDefinition.fingerprint), for commits written before the build fingerprint. */
function definitionFingerprint(version: string, dir = packageDir()): string {
  const raw = JSON.parse(fs.readFileSync(path.join(dir, 'definitions.json'), 'utf8')) as {
    windows_seconds: unknown;
    versions: Record<string, unknown>;
  };
  return createHash('sha256')
    .update(pythonJson({ windows: raw.windows_seconds, version: raw.versions[version] }))
    .digest('hex')
    .slice(0, 12);
}

/**
 * Python's `json.dumps(value, sort_keys=True)` with its defaults: ", " and ": " separators and
 * ASCII-only strings (\uXXXX escapes). Whole numbers only: definitions.json holds no fractions.
 */
function pythonJson(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    // Python would write 1.5 or 3600.0 differently from JavaScript; refuse rather than disagree.
    if (!Number.isInteger(value))
      throw new Error(`definitions.json: ${value} is not a whole number; fingerprints hash whole numbers only`);
    return String(value);
  }
  if (typeof value === 'string') return asciiJsonString(value);
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  const o = value as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${asciiJsonString(k)}: ${pythonJson(o[k])}`)
    .join(', ')}}`;
}

function asciiJsonString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
