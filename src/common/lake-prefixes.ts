/**
 * Paths inside the lake: the bronze, silver and gold prefixes of a request, and relative paths in
 * general. Pure: validateInput, the chunk workflow's checks and the activities use the same rules.
 */
import { InputError } from './input-error';
import { DEFAULT_LAKE_PREFIXES } from './lake-contract';

export interface LakePrefixes {
  bronze: string;
  silver: string;
  gold: string;
}

/** The job's defaults (contract.json default_prefixes), so a request without prefixes reads what the job writes. */
export const DEFAULT_PREFIXES: LakePrefixes = {
  bronze: DEFAULT_LAKE_PREFIXES.bronze,
  silver: DEFAULT_LAKE_PREFIXES.silver,
  gold: DEFAULT_LAKE_PREFIXES.gold,
};

// Whitespace and control characters would split or corrupt EMR's whitespace-split
// sparkSubmitParameters and the job's arguments.
export const UNSAFE_CHARACTERS = /[\s\u0000-\u001f\u007f]/;

/** A relative path under the lake or code bucket: never escapes it, never reads as an option. */
export function relativePath(v: string, field: string): string {
  if (UNSAFE_CHARACTERS.test(v))
    throw new InputError(field, `${JSON.stringify(v)} contains whitespace or control characters`);
  if (v.startsWith('/')) throw new InputError(field, `${JSON.stringify(v)} must be relative (no leading "/")`);
  if (v.startsWith('-')) throw new InputError(field, `${JSON.stringify(v)} starts with "-"`);
  if (v.split('/').includes('..')) throw new InputError(field, `${JSON.stringify(v)} contains a ".." segment`);
  return v;
}

/**
 * One prefix: relative, inside the lake, no "." or empty segment (a trailing "/" is dropped), no
 * "," (the job's arguments), no URI scheme.
 */
function prefix(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw new InputError(field, 'required, a non-empty string');
  const value = relativePath(v, field).replace(/\/+$/, '');
  if (value === '') throw new InputError(field, 'must name a directory under the lake');
  const segments = value.split('/');
  if (segments.includes('')) throw new InputError(field, `${JSON.stringify(v)} has an empty segment ("//")`);
  if (segments.includes('.')) throw new InputError(field, `${JSON.stringify(v)} has a "." segment`);
  // `_ledger`, `_catalog`, `_manifests` are the lake's own; readers skip `_x` and `.x` directories.
  const hidden = segments.find((s) => s.startsWith('_') || s.startsWith('.'));
  if (hidden)
    throw new InputError(
      field,
      `${JSON.stringify(v)} has the segment "${hidden}": names starting with "_" or "." are the lake's own (_ledger, _catalog, _manifests) or hidden from readers`,
    );
  if (/[,:\\]/.test(value)) throw new InputError(field, `${JSON.stringify(v)} may not hold "," ":" or "\\"`);
  return value;
}

/**
 * The request's prefixes, defaults filled in, each checked, and disjoint: none equal to, inside, or
 * containing another (bronze included). Overlapping prefixes let the job's silver or gold writes
 * replace bronze files, or one table's cleanup delete another's.
 */
export function lakePrefixes(v: unknown): LakePrefixes {
  if (v !== undefined && v !== null && (typeof v !== 'object' || Array.isArray(v)))
    throw new InputError('prefixes', 'must be an object');
  const o = (v ?? {}) as Record<string, unknown>;
  const result = { ...DEFAULT_PREFIXES };
  for (const key of Object.keys(o)) {
    if (!(key in result)) throw new InputError(`prefixes.${key}`, 'unknown prefix; known: bronze, silver, gold');
    result[key as keyof LakePrefixes] = prefix(o[key], `prefixes.${key}`);
  }
  const names = Object.keys(result) as (keyof LakePrefixes)[];
  for (const a of names) {
    for (const b of names) {
      if (a === b) continue;
      const [pa, pb] = [result[a], result[b]];
      if (pa === pb || pb.startsWith(`${pa}/`)) {
        // Name the prefix the request set (the other may be a default).
        const field = a in o ? a : b;
        const relation = pa === pb ? `and ${b} are the same directory` : `contains ${b} "${pb}"`;
        throw new InputError(
          `prefixes.${field}`,
          `${a} "${pa}" ${relation}: bronze, silver and gold must be separate directories, none inside another`,
        );
      }
    }
  }
  return result;
}
