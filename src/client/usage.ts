/**
 * Bad usage (exit code 2) and the flag parsing every subcommand shares. Every message names the
 * flag at fault and what to change.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { toEpochDay } from '../common/dates';
import { InputError } from '../common/input';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type FlagSpec = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs, with its errors turned into usage errors that point at the command's help. */
export function parseFlags<O extends FlagSpec>(command: string, argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, strict: true as const, allowPositionals });
  } catch (err) {
    // Node's own message names the flag; its advice about `--` does not apply here.
    const message = (err as Error).message
      .replace(/[.\s]+To specify.*$/s, '')
      .replace(/\n/g, ' ')
      .replace(/\.$/, '');
    throw new UsageError(`${message}; see backfill ${command} --help`);
  }
}

export function wantsHelp(argv: string[]): boolean {
  return argv.includes('-h') || argv.includes('--help');
}

export function integerFlag(value: string | undefined, flag: string, min = 1): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value) || Number(value) < min) {
    throw new UsageError(`${flag} must be a whole number of at least ${min}, got "${value}"`);
  }
  return Number(value);
}

/** A positive decimal, e.g. a unit price. */
export function positiveNumberFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new UsageError(`${flag} must be a positive number, got "${value}"`);
  return n;
}

export function dateFlag(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (toEpochDay(value) === undefined)
    throw new UsageError(`${flag} must be a date in YYYY-MM-DD form, got "${value}"`);
  return value;
}

export function exclusive(values: Record<string, unknown>, a: string, b: string, why: string): void {
  if (values[a] && values[b]) throw new UsageError(`--${a} and --${b} exclude each other: ${why}`);
}

/** Workflow input fields and the flags that set them, so an input error names the flag to change. */
export const FLAG_OF_FIELD: Record<string, string> = {
  bucket: '--bucket',
  codeBucket: '--code-bucket',
  startDate: '--start-date',
  endDate: '--end-date',
  featureVersion: '--feature-version',
  chunkSizeDays: '--chunk-size-days',
  featureGroup: '--feature-group',
  'emr.appId': '--emr-app-id',
  'emr.jobRole': '--emr-job-role',
  'glue.crawlerName': '--glue-crawler',
  maxConcurrentChunks: '--max-concurrent-chunks',
  sparkConf: '--spark-conf',
  allowIncompleteDays: '--allow-incomplete-days',
  republish: '--republish',
  acceptDefinitionChange: '--accept-definition-change',
  onlineHorizonDays: '--online-horizon-days',
  targetStores: '--target-stores',
  publishWith: '--publish-with',
};

/** An InputError of validateInput() as a usage error about the flag that set the field. */
export function usageOfInputError(err: InputError): UsageError {
  const detail = err.message.replace(/^invalid input: [^:]+: /, '');
  const flag =
    FLAG_OF_FIELD[err.field] ??
    (err.field.startsWith('sparkConf.') ? `--spark-conf ${err.field.slice('sparkConf.'.length)}` : err.field);
  return new UsageError(`${flag}: ${detail}`);
}
