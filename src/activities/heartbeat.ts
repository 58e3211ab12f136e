/** A steady heartbeat around long work, for steps whose own progress comes rarely or never. */
import type { Context } from '@temporalio/activity';

/** Runs `work`, heartbeating `details()` every 5 s until it settles. */
export async function whileHeartbeating<T>(ctx: Context, details: () => unknown, work: () => Promise<T>): Promise<T> {
  const timer = setInterval(() => ctx.heartbeat(details()), 5000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
