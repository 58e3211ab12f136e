/**
 * Compare-and-swap of one file on a local disk (docs/design.md, "Conditional ledger writes"): the same protocol as the Python job's
 * LakeFs, so a Spark job and a TypeScript worker writing the same ledger record exclude each other.
 *
 * 1. Take `<dir>/.<base>.lock` with O_CREAT|O_EXCL, holding {pid, start, host}. A lock whose pid is
 *    gone, or runs with another start time (the pid was reused), is stale: removed, then tried again.
 * 2. Under the lock, compare the file's md5 (what S3 gives as a single-part ETag) with the condition.
 * 3. Write `<dir>/.<base>.<pid>.tmp`, fsync, rename over the file, remove the lock.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { LedgerConflictError, type WriteCondition } from '../backends';

export interface LockOwner {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); null where there is no /proc. */
  start: number | null;
  host: string;
}

/** How long a writer waits for a live lock before giving up: far above any one record's write. */
const LOCK_WAIT_MS = 10_000;
/** A lock file with no owner yet (its writer died between create and write) is stale after this. */
const EMPTY_LOCK_STALE_MS = 2_000;

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
  await takeLock(lock, uri);
  try {
    return await work();
  } finally {
    await fs.rm(lock, { force: true });
  }
}

async function takeLock(lock: string, uri: string): Promise<void> {
  const me = JSON.stringify(await ownerOf(process.pid));
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await fs.open(lock, 'wx');
      try {
        await handle.writeFile(me);
      } finally {
        await handle.close();
      }
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await readLock(lock);
    if (holder === 'gone') continue;
    if (await isStale(lock, holder)) {
      await fs.rm(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      const who = holder ? `locked by pid ${holder.pid} on ${holder.host}` : 'locked (no owner written)';
      throw new LedgerConflictError(uri, 'lock', who);
    }
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 15));
  }
}

/** The lock's owner; undefined when it holds no owner yet, 'gone' when it was removed meanwhile. */
async function readLock(lock: string): Promise<LockOwner | undefined | 'gone'> {
  try {
    const owner = JSON.parse(await fs.readFile(lock, 'utf8')) as LockOwner;
    return typeof owner?.pid === 'number' ? owner : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    return undefined; // empty or half written: its writer is between create and write, or died there
  }
}

async function isStale(lock: string, holder: LockOwner | undefined): Promise<boolean> {
  if (!holder) {
    const st = await fs.stat(lock).catch(() => undefined);
    return !!st && Date.now() - st.mtimeMs > EMPTY_LOCK_STALE_MS;
  }
  // Another host's process cannot be looked up from here: wait for it (and fail after the bound).
  if (holder.host !== os.hostname()) return false;
  if (!isRunning(holder.pid)) return true;
  const start = await processStart(holder.pid);
  return holder.start !== null && start !== null && start !== holder.start;
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

export async function ownerOf(pid: number): Promise<LockOwner> {
  return { pid, start: await processStart(pid), host: os.hostname() };
}

/** Field 22 of /proc/<pid>/stat; the command name (field 2) may hold spaces, so count after its ')'. */
async function processStart(pid: number): Promise<number | null> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = Number(fields[19]);
    return Number.isFinite(start) ? start : null;
  } catch {
    return null;
  }
}
