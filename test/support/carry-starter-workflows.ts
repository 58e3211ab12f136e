/**
 * The worker's workflows plus one that continues as new into backfillWorkflow with a given carry:
 * how a test hands a backfill a carry (e.g. one from older code) the way a real run does, since a
 * start with a carry is refused.
 */
import { makeContinueAsNewFunc } from '@temporalio/workflow';
import type { BackfillInput } from '../../src/common/input';
import type { BackfillCarry, backfillWorkflow } from '../../src/workflows/backfill';

export * from '../../src/workflows';

export async function continueIntoBackfill(input: BackfillInput, carry: BackfillCarry): Promise<never> {
  return makeContinueAsNewFunc<typeof backfillWorkflow>({ workflowType: 'backfillWorkflow' })(input, carry);
}
