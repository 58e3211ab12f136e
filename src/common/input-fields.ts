/**
 * Readers of one field of untrusted JSON: each returns the value in its type or throws an
 * InputError naming the field and what is wrong. Pure: validateInput() is built from them.
 */
import { toEpochDay } from './dates';
import { InputError } from './input-error';
import { UNSAFE_CHARACTERS } from './lake-prefixes';

/** A JSON object's fields, as the readers take them. */
type Fields = Record<string, unknown>;

export function oneOf<T extends string>(o: Fields, field: string, values: readonly T[]): T | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !values.includes(v as T))
    throw new InputError(field, `must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

export function requiredString(o: Fields, field: string, path = field): string {
  const v = o[field];
  if (typeof v !== 'string' || v.trim() === '') throw new InputError(path, 'required, a non-empty string');
  return v;
}

export function optionalString(o: Fields, field: string): string | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.trim() === '') throw new InputError(field, 'must be a non-empty string');
  return v;
}

export function matching(o: Fields, field: string, pattern: RegExp, what: string): string | undefined {
  const v = optionalString(o, field);
  if (v !== undefined && !pattern.test(v)) throw new InputError(field, `${JSON.stringify(v)} is not ${what}`);
  return v;
}

/**
 * A lake or code location: an S3 bucket name, an s3:// or file:// URI, or a directory path. No
 * whitespace or control characters, no leading "-" (it would read as an option), no "," (Spark
 * reads --py-files and spark.jars as comma-separated lists).
 */
export function location(v: string, field: string): string {
  if (UNSAFE_CHARACTERS.test(v))
    throw new InputError(field, `${JSON.stringify(v)} contains whitespace or control characters`);
  if (v.startsWith('-')) throw new InputError(field, `${JSON.stringify(v)} starts with "-"`);
  if (v.includes(',')) throw new InputError(field, `${JSON.stringify(v)} contains ","`);
  if (v.includes('://') && !/^(s3:\/\/[^/]|file:\/\/\/)/.test(v)) {
    throw new InputError(field, `${JSON.stringify(v)}: only s3://BUCKET and file:///PATH URIs are accepted`);
  }
  return v;
}

export function date(o: Fields, field: string): string {
  const v = o[field];
  if (typeof v !== 'string') throw new InputError(field, 'required, a date in YYYY-MM-DD form');
  if (toEpochDay(v) === undefined) throw new InputError(field, `"${v}" is not a date in YYYY-MM-DD form`);
  return v;
}

export function positiveInt(o: Fields, field: string, fallback: number): number {
  const v = o[field] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new InputError(field, `must be a whole number of at least 1, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function nonNegativeInt(o: Fields, field: string, fallback: number): number {
  const v = o[field] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new InputError(field, `must be a whole number of at least 0, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function bool(o: Fields, field: string): boolean {
  const v = o[field] ?? false;
  if (typeof v !== 'boolean') throw new InputError(field, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

export function object(v: unknown, field: string): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new InputError(field, 'must be an object');
  return v as Record<string, unknown>;
}
