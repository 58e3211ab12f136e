/**
 * Which days the Spark job publishes to the offline store (spark_jobs/card_features/offline_publish.py):
 * the plan's spark days whose current gold has no finished publication, including days it is about
 * to compute and days an earlier attempt left half-published (the job redoes them from the ledger).
 */
import type { BackfillRequest } from '../../common/input';
import { dayPublisher } from '../../common/publication-plan';
import { publicationOf, type DayState } from '../ledger/records';

export function sparkPublishDates(request: BackfillRequest, states: DayState[], computeDates: string[]): string[] {
  return states
    .filter((s) => dayPublisher(request.publication, s.dt) === 'spark')
    .filter((s) => computeDates.includes(s.dt) || needsPublishing(s))
    .map((s) => s.dt);
}

function needsPublishing(state: DayState): boolean {
  if (!state.commit || state.commit.rows === 0) return false;
  return publicationOf(state)?.status !== 'done';
}

/** The job's arguments for them: the days, and the store when the backend names one (AWS: the group's ARN). */
export function sparkPublishArgs(request: BackfillRequest, days: string[]): string[] {
  if (days.length === 0) return [];
  const store = request.publication?.offlineStore;
  return ['--offline-publish-dates', days.join(','), ...(store ? ['--offline-store', store] : [])];
}
