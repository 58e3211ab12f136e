/** The ledger's state of a range of days, as the steps and the dry run read it. */
import type { BackfillRequest } from '../../common/input';
import type { Lake } from '../backends';
import { readDayState, type DayState } from './records';

/** Each day's state, in the order given. */
export async function readStates(lake: Lake, request: BackfillRequest, days: string[]): Promise<DayState[]> {
  const out: DayState[] = [];
  for (const dt of days) out.push(await readDayState(lake, request, dt));
  return out;
}

/** Whether the day has gold readers see: committed rows, or files written without a ledger. */
export function hasGold(s: DayState): boolean {
  return s.commit ? s.commit.rows > 0 : s.foreignFiles.length > 0;
}
