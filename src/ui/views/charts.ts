import { html, raw, type SafeHtml } from "../html";
import { escapeHtml } from "../html";

/**
 * Charts drawn as inline SVG on the server: no script, no library, readable by screen readers (role="img" with a
 * title, plus the numbers in a table under "Show data"). Colours come from CSS classes in ui.css.
 */

export interface Bar {
  label: string;
  value: number;
  /** CSS class of the bar's fill, e.g. fill-critical. */
  fill: string;
}

let chartSeq = 0;
const nextId = (prefix: string) => `${prefix}-${++chartSeq}`;

function niceMax(value: number): number {
  if (value <= 5) return 5;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * magnitude) return step * magnitude;
  return 10 * magnitude;
}

/** Horizontal bars with their labels on the left and values at the end. */
export function horizontalBarChart(title: string, bars: readonly Bar[], options: { labelWidth?: number } = {}): SafeHtml {
  const id = nextId("chart");
  const labelWidth = options.labelWidth ?? 110;
  const width = 560;
  const rowHeight = 30;
  const height = Math.max(1, bars.length) * rowHeight + 8;
  const plotWidth = width - labelWidth - 70;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const rows = bars
    .map((b, i) => {
      const y = 4 + i * rowHeight;
      const w = b.value === 0 ? 0 : Math.max(2, (b.value / max) * plotWidth);
      const label = b.label.length > 28 ? b.label.slice(0, 27) + "…" : b.label;
      return `<text class="chart-label" x="${labelWidth - 8}" y="${y + 19}" text-anchor="end">${escapeHtml(label)}</text>
<rect class="chart-track" x="${labelWidth}" y="${y + 5}" width="${plotWidth}" height="20" rx="3"></rect>
<rect class="${escapeHtml(b.fill)}" x="${labelWidth}" y="${y + 5}" width="${w.toFixed(1)}" height="20" rx="3"></rect>
<text class="chart-value" x="${(labelWidth + w + 6).toFixed(1)}" y="${y + 20}">${b.value.toLocaleString("en-US")}</text>`;
    })
    .join("\n");
  return html`<figure class="chart">
  <svg role="img" aria-labelledby="${id}-t" viewBox="0 0 ${width} ${height}" width="100%" preserveAspectRatio="xMinYMin meet">
    <title id="${id}-t">${title}: ${bars.map((b) => `${b.label} ${b.value}`).join(", ")}</title>
    ${raw(rows)}
  </svg>
  ${dataTable(title, ["", "Count"], bars.map((b) => [b.label, b.value.toLocaleString("en-US")]))}
</figure>`;
}

export interface DailyCounts {
  day: string;
  allowed: number;
  denied: number;
}

/** Admission decisions per day, allowed and denied side by side, with a legend in words. */
export function dailyDecisionsChart(title: string, days: readonly DailyCounts[]): SafeHtml {
  const id = nextId("chart");
  const width = 560;
  const height = 200;
  const left = 40;
  const bottom = 24;
  const top = 10;
  const plotHeight = height - bottom - top;
  const plotWidth = width - left - 8;
  const max = niceMax(Math.max(1, ...days.map((d) => Math.max(d.allowed, d.denied))));
  const slot = plotWidth / Math.max(1, days.length);
  const barWidth = Math.max(3, Math.min(14, slot / 2 - 3));
  const y = (v: number) => top + plotHeight - (v / max) * plotHeight;
  const grid = [0, 0.5, 1]
    .map((f) => {
      const v = Math.round(max * f);
      return `<line class="chart-grid" x1="${left}" x2="${width - 8}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}"></line>
<text class="chart-axis" x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v.toLocaleString("en-US")}</text>`;
    })
    .join("\n");
  const bars = days
    .map((d, i) => {
      const cx = left + slot * i + slot / 2;
      const label = i % 2 === days.length % 2 ? "" : `<text class="chart-axis" x="${cx.toFixed(1)}" y="${height - 6}" text-anchor="middle">${escapeHtml(d.day.slice(5))}</text>`;
      const bar = (v: number, x: number, cls: string, name: string) =>
        `<rect class="${cls}" x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${(top + plotHeight - y(v)).toFixed(1)}"><title>${escapeHtml(d.day)}: ${v} ${name}</title></rect>`;
      return bar(d.allowed, cx - barWidth - 1, "fill-allowed", "allowed") + bar(d.denied, cx + 1, "fill-denied", "denied") + label;
    })
    .join("\n");
  const totalAllowed = days.reduce((a, d) => a + d.allowed, 0);
  const totalDenied = days.reduce((a, d) => a + d.denied, 0);
  return html`<figure class="chart">
  <svg role="img" aria-labelledby="${id}-t" viewBox="0 0 ${width} ${height}" width="100%" preserveAspectRatio="xMinYMin meet">
    <title id="${id}-t">${title}: ${totalAllowed} allowed and ${totalDenied} denied over ${days.length} days</title>
    ${raw(grid)}
    ${raw(bars)}
  </svg>
  <figcaption class="legend"><span class="swatch fill-allowed" aria-hidden="true"></span> Allowed (${totalAllowed.toLocaleString("en-US")})
    <span class="swatch fill-denied" aria-hidden="true"></span> Denied (${totalDenied.toLocaleString("en-US")})</figcaption>
  ${dataTable(title, ["Day", "Allowed", "Denied"], days.map((d) => [d.day, String(d.allowed), String(d.denied)]))}
</figure>`;
}

function dataTable(caption: string, head: string[], rows: string[][]): SafeHtml {
  return html`<details class="chart-data"><summary>Show data</summary>
  <table class="table compact"><caption class="sr-only">${caption}</caption>
    <thead><tr>${head.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead>
    <tbody>${rows.map((r) => html`<tr>${r.map((c, i) => (i === 0 ? html`<th scope="row">${c}</th>` : html`<td class="num">${c}</td>`))}</tr>`)}</tbody>
  </table></details>`;
}
