/**
 * `backfill diff` as one self-contained HTML page: inline CSS and SVG charts, no script and nothing
 * fetched at view time, so it can be attached to a review or archived with the JSON.
 */
import type { DiffReport } from '../../activities/diff/result';
import { dayRows, num, pct } from './table';

const COLORS = { a: '#7a8ca3', b: '#d9822b', changed: '#c23b22' };

export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

interface Bars {
  title: string;
  labels: string[];
  /** One series per side or measure; values per label. */
  series: { name: string; color: string; values: number[] }[];
  format: (v: number) => string;
}

/** A grouped bar chart: one group per label, one bar per series, a value axis from 0 to the maximum. */
export function barChart({ title, labels, series, format }: Bars): string {
  const width = 720;
  const height = 220;
  const left = 56;
  const bottom = 40;
  const plotH = height - bottom - 24;
  const max = Math.max(...series.flatMap((s) => s.values), 0) || 1;
  const group = (width - left - 8) / Math.max(labels.length, 1);
  const bar = Math.max(2, (group * 0.8) / series.length);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${esc(title)}">`,
    `<text x="${left}" y="14" class="t">${esc(title)}</text>`,
    `<line x1="${left}" y1="${24 + plotH}" x2="${width - 8}" y2="${24 + plotH}" class="axis"/>`,
    `<text x="${left - 4}" y="28" class="v" text-anchor="end">${esc(format(max))}</text>`,
    `<text x="${left - 4}" y="${24 + plotH}" class="v" text-anchor="end">0</text>`,
  ];
  labels.forEach((label, i) => {
    const x0 = left + i * group + group * 0.1;
    series.forEach((s, j) => {
      const h = (s.values[i] / max) * plotH;
      const x = (x0 + j * bar).toFixed(1);
      parts.push(
        `<rect x="${x}" y="${(24 + plotH - h).toFixed(1)}" width="${(bar - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${s.color}"><title>${esc(`${s.name} ${label}: ${format(s.values[i])}`)}</title></rect>`,
      );
    });
    parts.push(
      `<text x="${(x0 + group * 0.4).toFixed(1)}" y="${height - bottom + 30}" class="l" text-anchor="middle">${esc(label)}</text>`,
    );
  });
  series.forEach((s, j) => {
    // The legend sits on the title row, right-aligned, clear of the axis labels.
    const x = width - 8 - (series.length - j) * 100;
    parts.push(`<rect x="${x}" y="5" width="10" height="10" fill="${s.color}"/>`);
    parts.push(`<text x="${x + 14}" y="14" class="l">${esc(s.name)}</text>`);
  });
  return parts.join('') + '</svg>';
}

function table(header: string[], rows: string[][]): string {
  const th = header.map((h) => `<th>${esc(h)}</th>`).join('');
  const trs = rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('');
  return `<table><thead><tr>${th}</tr></thead><tbody>${trs}</tbody></table>`;
}

function featureSection(report: DiffReport, feature: string): string {
  const t = report.total.features[feature];
  const days = report.days.map((d) => d.dt.slice(5));
  const share = barChart({
    title: `${feature}: share of events changed, per day`,
    labels: days,
    series: [
      { name: 'changed', color: COLORS.changed, values: report.days.map((d) => d.features[feature].changed_share) },
    ],
    format: pct,
  });
  const stats = ['mean', 'p50', 'p95', 'max'] as const;
  const dist = barChart({
    title: `${feature}: distribution over the range`,
    labels: [...stats],
    series: [
      { name: report.a.label, color: COLORS.a, values: stats.map((s) => t.a[s] ?? 0) },
      { name: report.b.label, color: COLORS.b, values: stats.map((s) => t.b[s] ?? 0) },
      { name: '|b - a|', color: COLORS.changed, values: stats.map((s) => t.change[s] ?? 0) },
    ],
    format: num,
  });
  const rows = (['a', 'b', 'change'] as const).map((k) => [
    k === 'change' ? '|b - a|' : report[k].label,
    String(t[k].count),
    ...stats.map((s) => num(t[k][s])),
  ]);
  return `<section><h2>${esc(feature)}: ${t.changed} changed (${pct(t.changed_share)})</h2><div class="charts">${share}${dist}</div>${table(['', 'count', ...stats], rows)}</section>`;
}

export function renderDiffHtml(report: DiffReport): string {
  const { features } = report;
  const title = `diff ${report.b.label} against ${report.a.label}, ${report.startDate}..${report.endDate}`;
  const rowsChart = barChart({
    title: 'rows per day',
    labels: report.days.map((d) => d.dt.slice(5)),
    series: [
      { name: `rows ${report.a.label}`, color: COLORS.a, values: report.days.map((d) => d.rows_a) },
      { name: `rows ${report.b.label}`, color: COLORS.b, values: report.days.map((d) => d.rows_b) },
    ],
    format: (v) => String(Math.round(v)),
  });
  const rows = dayRows(report, features);
  const gate = report.gate.exceeded.length
    ? `<p class="bad">gate FAILED: ${report.gate.exceeded.map((e) => `${esc(e.feature)} ${pct(e.changed_share)} &gt; ${pct(e.limit)}`).join(', ')}</p>`
    : `<p>${Object.keys(report.gate.limits).length ? 'gate passed' : 'no gate set'}</p>`;
  const cards = table(
    ['card', 'changed events', 'events on both', 'one-sided', ...features.map((f) => `max |change| ${f}`)],
    report.top_cards.map((c) => [
      c.card_id,
      String(c.changed_events),
      String(c.both),
      String(c.one_sided),
      ...features.map((f) => num(c.max_change[f])),
    ]),
  );
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:12px}svg{background:#fafafa;border:1px solid #eee}
.t{font-size:13px;font-weight:600}.v,.l{font-size:11px;fill:#555}.axis{stroke:#999}.bad{color:#c23b22;font-weight:600}
</style></head><body><h1>${esc(title)}</h1>${gate}${rowsChart}
${table(['day', `rows ${report.a.label}`, `rows ${report.b.label}`, `only ${report.a.label}`, `only ${report.b.label}`, ...features.map((f) => `${f} changed`)], rows)}
${features.map((f) => featureSection(report, f)).join('\n')}
<h2>cards that changed most</h2>${cards}</body></html>
`;
}
