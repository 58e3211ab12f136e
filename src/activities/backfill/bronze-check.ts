/**
 * A cheap look at bronze files for the dry run: empty files and files whose first bytes do not
 * match their name. Reads a few bytes per file (a ranged GET on S3), never a whole file, so a
 * truncated gzip body is found only by the job itself.
 */
import type { BadBronzeFile } from '../../common/bad-input';
import type { Lake, LakeObject } from '../backends';

/** Bytes read from each file: enough for the gzip magic and some leading white space before a `{`. */
const HEAD_BYTES = 64;
/** A gzip member is at least a 10-byte header, 2 bytes of empty deflate data and an 8-byte trailer. */
const MIN_GZIP_BYTES = 20;
/** Files checked at once: ranged reads are small, latency dominates. */
const CONCURRENCY = 16;

const isGzip = (head: Buffer) => head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
const hex = (head: Buffer) => [...head.subarray(0, 4)].map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(' ');

/** Why a file cannot be read as its name says, from its size and first bytes; undefined when it looks right. */
function headProblem(uri: string, size: number, head: Buffer): string | undefined {
  if (size === 0 || head.length === 0) return 'the file is empty';
  if (/\.gz$/i.test(uri)) {
    if (!isGzip(head)) return `the file is not gzip data although its name ends in .gz (it starts with ${hex(head)})`;
    if (size < MIN_GZIP_BYTES) return `the file is too short to be gzip data (${size} bytes): it was cut off`;
    return undefined;
  }
  if (/\.(json|jsonl|ndjson)$/i.test(uri)) {
    if (isGzip(head)) return 'the file is gzip data but its name does not end in .gz: Spark would read it as text';
    const first = head.toString('latin1').trimStart();
    // All white space in the head: leave it to the job, which skips blank lines.
    if (first !== '' && first[0] !== '{')
      return `the file does not start with a JSON object (it starts with ${hex(head)})`;
  }
  return undefined;
}

/** The bronze files among `files` that are empty or fail the header check, each with its dt and reason. */
export async function checkBronzeFiles(lake: Lake, files: readonly LakeObject[]): Promise<BadBronzeFile[]> {
  const found: BadBronzeFile[] = [];
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++];
      // Known empty from the listing: no read needed.
      const head = file.size === 0 ? Buffer.alloc(0) : await lake.readHead(file.uri, HEAD_BYTES);
      if (head === undefined) continue; // deleted since the listing: nothing the job will read
      const reason = headProblem(file.uri, file.size, head);
      if (reason) found.push({ uri: file.uri, dt: /\/dt=([^/]+)\//.exec(file.uri)?.[1] ?? '', reason });
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, files.length) }, worker));
  return found.sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
}
