/** The independent reference applies the quarantine rules the job applies (so e2e comparisons stay fair). */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { readBronzeEvents } from './support/reference-features';

const t = Date.parse('2025-10-01T10:00:00Z') / 1000;
const ev = (event_id: string, over: Record<string, unknown> = {}) =>
  JSON.stringify({
    event_id,
    card_id: 'C',
    merchant_id: 'm',
    amount: 10,
    currency: 'USD',
    status: 'APPROVED',
    event_time: t,
    ...over,
  });

describe('reference features: quarantine rules', () => {
  it('drops blank event, card and merchant ids and amounts not above zero in cents', () => {
    const lake = fs.mkdtempSync(path.join(os.tmpdir(), 'reference-'));
    const dir = path.join(lake, 'bronze', 'streaming', 'card_authorization', 'dt=2025-10-01');
    fs.mkdirSync(dir, { recursive: true });
    const lines = [
      ev('ok'),
      ev('cent', { amount: 0.005 }),
      ev('padded', { card_id: ' C ' }),
      ev(''),
      ev(' \t'),
      ev('no_card', { card_id: '' }),
      ev('blank_merchant', { merchant_id: '  ' }),
      ev('negative', { amount: -5 }),
      ev('zero', { amount: 0 }),
      ev('rounds_to_zero', { amount: 0.004 }),
    ];
    fs.writeFileSync(path.join(dir, 'part-0.json.gz'), zlib.gzipSync(lines.join('\n') + '\n'));
    assert.deepEqual(
      readBronzeEvents(lake)
        .map((e) => e.event_id)
        .sort(),
      ['cent', 'ok', 'padded'],
    );
  });
});
