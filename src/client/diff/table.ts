/** `backfill diff` as text: per day, per feature over the range, the cards that changed most, the gate. */
import type { Distribution, DiffReport } from '../../activities/diff/result';

export function pct(share: number): string {
  return `${(share * 100).toFixed(share > 0 && share < 0.001 ? 3 : 1)}%`;
}

export function num(x: number | null): string {
  if (x === null) return '-';
  return Number.isInteger(x) ? String(x) : x.toFixed(2);
}

function dist(d: Distribution): string {
  return `n=${d.count} mean=${num(d.mean)} p50=${num(d.p50)} p95=${num(d.p95)} max=${num(d.max)}`;
}

function columns(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
}

/** One row per day and one for the range: rows and events on each side, the changed share per feature. */
export function dayRows(report: DiffReport, features: string[]): string[][] {
  return [...report.days, { ...report.total, dt: 'total' }].map((d) => [
    d.dt,
    String(d.rows_a),
    String(d.rows_b),
    String(d.only_a),
    String(d.only_b),
    ...features.map((f) => pct(d.features[f].changed_share)),
  ]);
}

export function formatDiff(report: DiffReport): string {
  const { features } = report;
  const lines = [
    `diff ${report.b.label} (b) against ${report.a.label} (a), ${report.startDate}..${report.endDate}`,
    '',
  ];
  const header = ['day', 'rows a', 'rows b', 'only a', 'only b', ...features.map((f) => `${f} changed`)];
  const body = dayRows(report, features);
  lines.push(...columns([header, ...body]), '');
  for (const f of features) {
    const t = report.total.features[f];
    lines.push(`${f}: ${t.changed} of ${report.total.both} events on both sides changed (${pct(t.changed_share)})`);
    lines.push(`  a       ${dist(t.a)}`, `  b       ${dist(t.b)}`, `  |b - a| ${dist(t.change)}`);
  }
  if (report.top_cards.length > 0) {
    lines.push('', 'cards that changed most (events changed, on one side only, largest change per feature):');
    for (const c of report.top_cards) {
      const max = features.map((f) => `${f}=${num(c.max_change[f])}`).join(' ');
      lines.push(`  ${c.card_id}  ${c.changed_events} of ${c.both} changed, ${c.one_sided} one-sided  ${max}`);
    }
  }
  for (const side of [report.a, report.b])
    for (const m of side.missing) lines.push(`warning: ${side.label} has no gold for ${m.dt}: ${m.reason}`);
  lines.push('', ...gateLines(report));
  return lines.join('\n');
}

function gateLines(report: DiffReport): string[] {
  const { limits, exceeded } = report.gate;
  if (Object.keys(limits).length === 0) return ['gate: none set (--max-changed-share)'];
  if (exceeded.length === 0) return ['gate: passed (every feature within its changed-share limit)'];
  return exceeded.map((e) => `gate: FAILED ${e.feature} changed ${pct(e.changed_share)} > limit ${pct(e.limit)}`);
}
