/** The lake on a local directory (file:// URIs). */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Lake, LakeObject, WriteCondition } from '../backends';
import { fileUriToPath } from '../lake-paths';
import { readParquetRows } from '../parquet';
import { md5Hex, writeDurably, writeFileIf } from './file-cas';

export class LocalLake implements Lake {
  async readText(uri: string): Promise<string | undefined> {
    try {
      return await fs.readFile(fileUriToPath(uri), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async writeText(uri: string, text: string): Promise<void> {
    const file = fileUriToPath(uri);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await writeDurably(file, text, { locked: false });
  }

  async readTextWithEtag(uri: string): Promise<{ text: string; etag: string } | undefined> {
    let bytes;
    try {
      bytes = await fs.readFile(fileUriToPath(uri));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return { text: bytes.toString('utf8'), etag: md5Hex(bytes) };
  }

  /** The lock-file compare-and-swap of file-cas.ts (shared with the Python job). */
  writeTextIf(uri: string, text: string, condition: WriteCondition): Promise<string> {
    return writeFileIf(fileUriToPath(uri), uri, text, condition);
  }

  async list(prefixUri: string): Promise<LakeObject[]> {
    const root = fileUriToPath(prefixUri);
    const out: LakeObject[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR')
          return;
        throw err;
      }
      for (const e of entries) {
        if (e.name.startsWith('_') || e.name.startsWith('.')) continue;
        const full = path.join(dir, e.name);
        if (e.isDirectory()) await walk(full);
        else {
          // Whole milliseconds from the nanoseconds, exactly as Hadoop's FileStatus (java.io.File) gives them.
          const st = await fs.stat(full, { bigint: true });
          out.push({ uri: 'file://' + full, size: Number(st.size), mtime: Number(st.mtimeNs / 1_000_000n) });
        }
      }
    };
    await walk(root);
    return out.sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
  }

  async delete(uris: string[]): Promise<void> {
    const dirs = new Set<string>();
    for (const uri of uris) {
      const file = fileUriToPath(uri);
      await fs.rm(file, { force: true });
      dirs.add(path.dirname(file));
    }
    // Deepest first, so a run directory goes after the partition directories inside it.
    for (const dir of [...dirs].sort((a, b) => b.length - a.length)) await removeEmptyDirs(dir);
  }

  async readHead(uri: string, bytes: number): Promise<Buffer | undefined> {
    let handle;
    try {
      handle = await fs.open(fileUriToPath(uri), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const buffer = Buffer.alloc(bytes);
      const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  async readParquet(uri: string): Promise<Record<string, unknown>[]> {
    return readParquetRows(await fs.readFile(fileUriToPath(uri)));
  }
}

/** Removes `dir` and its empty parents up to the first that is not empty. */
async function removeEmptyDirs(dir: string): Promise<void> {
  for (let d = dir; ; d = path.dirname(d)) {
    try {
      await fs.rmdir(d);
    } catch {
      return; // not empty (or gone): stop here
    }
  }
}
