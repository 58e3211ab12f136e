/** `backfill set-concurrency`: the setMaxConcurrentChunks update of a running backfill. */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { MAX_CONCURRENT_CHUNKS_LIMIT, setMaxConcurrentChunksUpdate } from '../../workflows/api';
import { rootMessage } from '../../common/errors';
import { withWorker } from '../connect';
import { EXIT, type Io } from '../io';
import { TARGET_HELP } from '../target';
import { integerFlag, UsageError, wantsHelp } from '../usage';
import { openTarget, requireRunning } from './target-command';

export const SET_CONCURRENCY_HELP = `Usage: backfill set-concurrency <workflow-id> --max-concurrent-chunks N
       backfill set-concurrency --start-date YYYY-MM-DD --end-date YYYY-MM-DD [--feature-version VER] [--feature-group NAME] --max-concurrent-chunks N

Change how many chunks of a running backfill run at once (1 to ${MAX_CONCURRENT_CHUNKS_LIMIT}). Raising it starts
pending chunks at once; lowering it lets running chunks finish and starts fewer new ones.

${TARGET_HELP}

Options:
  --max-concurrent-chunks N     the new limit (required)
  -h, --help                    this help

Exit codes: 0 changed, 2 bad usage (no such backfill, not running, or a value out of range).`;

export async function setConcurrencyCommand(argv: string[], io: Io): Promise<number> {
  if (wantsHelp(argv)) {
    io.out(SET_CONCURRENCY_HELP);
    return EXIT.ok;
  }
  let value = 0;
  const t = await openTarget('set-concurrency', argv, { 'max-concurrent-chunks': { type: 'string' } }, (values) => {
    const n = integerFlag(values['max-concurrent-chunks'] as string | undefined, '--max-concurrent-chunks');
    if (n === undefined)
      throw new UsageError('--max-concurrent-chunks N is required; see backfill set-concurrency --help');
    if (n > MAX_CONCURRENT_CHUNKS_LIMIT)
      throw new UsageError(`--max-concurrent-chunks must be at most ${MAX_CONCURRENT_CHUNKS_LIMIT}, got ${n}`);
    value = n;
  });
  try {
    requireRunning(t, 'change');
    let now: number;
    try {
      now = await withWorker(t.temporal, 30_000, 'setMaxConcurrentChunks update', t.description.taskQueue, () =>
        t.handle.executeUpdate(setMaxConcurrentChunksUpdate, { args: [value] }),
      );
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError)
        throw new UsageError(`--max-concurrent-chunks: ${rootMessage(err)}`);
      throw err;
    }
    io.out(`max concurrent chunks of ${t.workflowId}: ${now}`);
    return EXIT.ok;
  } finally {
    await t.temporal.close();
  }
}
