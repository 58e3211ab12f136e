/**
 * Bronze files the Spark job could not read, as chunks report them. Pure: used by activities,
 * the workflow's report and the CLI alike.
 */

/** One unreadable bronze file: its URI, its arrival partition (`dt`) and the reason in plain words. */
export interface BadBronzeFile {
  uri: string;
  dt: string;
  reason: string;
}

/** The one wording of a bad file, in failure messages and reports. */
export function describeBadFile(file: BadBronzeFile): string {
  return `bronze file ${file.uri} (dt=${file.dt}) cannot be read: ${file.reason}`;
}

export function describeBadFiles(files: readonly BadBronzeFile[]): string {
  return files.map(describeBadFile).join('; ');
}

/** The bad files named in a message written by describeBadFiles (e.g. a chunk's error message). */
export function parseBadFiles(message: string): BadBronzeFile[] {
  const out: BadBronzeFile[] = [];
  const re = /bronze file (.+?) \(dt=(\d{4}-\d{2}-\d{2})\) cannot be read: (.*?)(?=; bronze file |$)/gs;
  for (const m of message.matchAll(re)) out.push({ uri: m[1], dt: m[2], reason: m[3] });
  return out;
}

/**
 * Each bad file once, however many chunks met it: a file of one day is read by the chunks of the
 * days before and after it too (lookback and lateness). Sorted by dt, then URI; the first
 * reason seen for a file is kept.
 */
export function uniqueBadFiles(lists: Iterable<readonly BadBronzeFile[] | undefined>): BadBronzeFile[] {
  const byUri = new Map<string, BadBronzeFile>();
  for (const list of lists) for (const file of list ?? []) if (!byUri.has(file.uri)) byUri.set(file.uri, file);
  return [...byUri.values()].sort((a, b) => (a.dt + a.uri < b.dt + b.uri ? -1 : a.dt + a.uri > b.dt + b.uri ? 1 : 0));
}

/** The bad files of a backfill's chunks, once each, read from the chunks' error messages. */
export function badFilesOfChunks(chunks: readonly { error?: { message: string } }[]): BadBronzeFile[] {
  return uniqueBadFiles(chunks.map((c) => (c.error ? parseBadFiles(c.error.message) : undefined)));
}
