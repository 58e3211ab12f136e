/**
 * Compare-and-swap of one file on a local disk (docs/design.md, "Conditional ledger writes"): the same
 * protocol as spark_jobs/card_features/conditional.py, so a Spark job and a TypeScript worker writing
 * the same ledger record exclude each other.
 *
 * 1. Acquire: write the owner `{pid, start, host}` to `<lock>.<pid>.<random>`, link() it to
 *    `<dir>/.<base>.lock` (EEXIST: held), unlink the temporary: a lock never exists without its owner.
 * 2. Under the lock, compare the file's md5 (what S3 gives as a single-part ETag) with the condition;
 *    write `<dir>/.<base>.<pid>.tmp`, fsync, rename over the file.
 * 3. Release: unlink the lock only if it still holds the bytes this writer wrote.
 * A lock is stale when its host is this one and its pid is not running or runs with another start time
 * (field 22 of /proc/<pid>/stat). Breaking it: take the token `<lock>.break.<pid>.<start>` (keyed by the
 * dead owner) the same way; under it, unlink the lock only if it still holds the dead owner's bytes.
 * Why at most one holder: only a token holder removes a lock not its own, and the token is exclusive; while
 * the lock still holds the dead owner's bytes nobody else can remove it (its owner is dead, other breakers
 * need the token) nor create one, so the unlink removes that stale file and never a live lock. A token
 * whose owner died is broken by the same rule, keyed by that owner; a live holder is waited for 10 s.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { LedgerConflictError, type WriteCondition } from '../backends';
import { processStartTime } from './processes';

export interface LockOwner {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); null where there is no /proc. */
  start: number | null;
  host: string;
}

/** How long a writer waits for a live lock before giving up: far above any one record's write. */
const LOCK_WAIT_MS = 10_000;

export function md5Hex(bytes: Buffer | string): string {
  return createHash('md5').update(bytes).digest('hex');
}

/** The file's md5, or undefined when it does not exist. */
export async function fileEtag(file: string): Promise<string | undefined> {
  try {
    return md5Hex(await fs.readFile(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Replaces `file` with `text` if `condition` holds; returns the new etag. `uri` names it in errors. */
export async function writeFileIf(file: string, uri: string, text: string, condition: WriteCondition): Promise<string> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  return withFileLock(file, uri, async () => {
    const current = await fileEtag(file);
    const expected = 'ifMatch' in condition ? condition.ifMatch : 'absent';
    if ((current ?? 'absent') !== expected) throw new LedgerConflictError(uri, expected, current ?? 'absent');
    await writeDurably(file, text, { locked: true });
    return md5Hex(text);
  });
}

let unlockedWrites = 0;

/**
 * Writes a hidden temporary file, fsyncs it, and renames it over `file` (atomic for readers). Under
 * the lock the temporary name is the protocol's `.<base>.<pid>.tmp`; without it (`locked` false), a
 * counter keeps concurrent writes of one process apart.
 */
export async function writeDurably(file: string, text: string, { locked }: { locked: boolean }): Promise<void> {
  const suffix = locked ? `${process.pid}` : `${process.pid}.${++unlockedWrites}`;
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${suffix}.tmp`);
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, file);
}

async function withFileLock<T>(file: string, uri: string, work: () => Promise<T>): Promise<T> {
  const lock = path.join(path.dirname(file), `.${path.basename(file)}.lock`);
  const mine = await takeLock(lock, uri);
  try {
    return await work();
  } finally {
    await releaseLock(lock, mine);
  }
}

async function takeLock(lock: string, uri: string): Promise<string> {
  const me = JSON.stringify(ownerOf(process.pid));
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    if (await tryLock(lock, me)) return me;
    const holder = await readBytes(lock);
    if (holder === undefined) continue; // released meanwhile
    // A breaker that finds the token held waits like anyone else (no spinning).
    if (isStale(holder)) await breakStale(lock, holder, me);
    if (Date.now() > deadline) {
      const owner = parseOwner(holder);
      throw new LedgerConflictError(uri, 'lock', `locked by pid ${owner?.pid} on ${owner?.host}`);
    }
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 15));
  }
}

/** One attempt to take `name` holding `owner`: link() of a complete temporary file; false when held. */
export async function tryLock(name: string, owner: string): Promise<boolean> {
  const tmp = `${name}.${process.pid}.${randomBytes(6).toString('hex')}`;
  const handle = await fs.open(tmp, 'w');
  try {
    // Synced before it is linked: after a crash the lock still names its owner (an unnamed one is never stale).
    await handle.writeFile(owner);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.link(tmp, name);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/** Unlinks `name` only while it holds `owner`'s bytes: a lock broken and retaken by another is left alone. */
export async function releaseLock(name: string, owner: string): Promise<void> {
  if ((await readBytes(name)) === owner) await fs.rm(name, { force: true });
}

/**
 * Removes `name` if it still holds `stale` (bytes of an owner judged dead), under the exclusive token
 * `<name>.break.<pid>.<start>`; a token whose own owner is dead is broken the same way. The caller tries again.
 */
export async function breakStale(name: string, stale: string, me: string): Promise<void> {
  const dead = parseOwner(stale);
  const token = `${name}.break.${dead?.pid}.${dead?.start}`;
  if (!(await tryLock(token, me))) {
    const holder = await readBytes(token);
    if (holder !== undefined && isStale(holder)) await breakStale(token, holder, me);
    return;
  }
  try {
    if ((await readBytes(name)) === stale) await fs.rm(name, { force: true });
  } finally {
    await releaseLock(token, me);
  }
}

async function readBytes(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function parseOwner(bytes: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(bytes) as LockOwner;
    return typeof owner?.pid === 'number' ? owner : undefined;
  } catch {
    return undefined;
  }
}

/** Same host, and the pid is not running or runs with another start time (reused). Another host: never. */
export function isStale(bytes: string): boolean {
  const holder = parseOwner(bytes);
  if (!holder || holder.host !== os.hostname()) return false;
  if (!isRunning(holder.pid)) return true;
  const start = processStartTime(holder.pid);
  return holder.start !== null && start !== undefined && Number(start) !== holder.start;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function ownerOf(pid: number): LockOwner {
  const start = processStartTime(pid);
  return { pid, start: start === undefined ? null : Number(start), host: os.hostname() };
}
