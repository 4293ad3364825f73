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

export interface TrendSeries<K extends string> {
  key: K;
  label: string;
  /** Colour name: fill-<colour> for its dots and swatch, stroke-<colour> for its line (ui.css). */
  colour: string;
}

/** The UTC days of a window ending on `end` (YYYY-MM-DD), oldest first. */
export function windowDays(end: Date, days: number): string[] {
  const last = Date.UTC(end.getUTCFullYear(), end.getUTCMonth(), end.getUTCDate());
  return Array.from({ length: days }, (_, i) => new Date(last - (days - 1 - i) * 86_400_000).toISOString().slice(0, 10));
}

const DASHES = ["", "6 3", "2 3", "9 3 2 3"];

/**
 * Daily values over a window of days as lines, one per series (each with its own dash pattern as well as colour,
 * and named in the legend), on a time axis of every day of the window: days without a snapshot are gaps, not
 * zeros. With no snapshot at all the axes say so; a single day shows dots (no line can be drawn through one point).
 */
export function trendChart<K extends string>(
  title: string,
  window: readonly string[],
  points: ReadonlyArray<{ day: string } & Record<K, number>>,
  series: ReadonlyArray<TrendSeries<K>>,
): SafeHtml {
  const id = nextId("chart");
  const width = 560;
  const height = 190;
  const left = 48;
  const right = 10;
  const top = 10;
  const bottom = 24;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const byDay = new Map(points.map((p) => [p.day, p]));
  const max = niceMax(Math.max(1, ...points.flatMap((p) => series.map((s) => p[s.key]))));
  const x = (i: number) => left + (window.length <= 1 ? plotWidth / 2 : (i / (window.length - 1)) * plotWidth);
  const y = (v: number) => top + plotHeight - (v / max) * plotHeight;
  const grid = [0, 0.5, 1]
    .map((f) => {
      const v = Math.round(max * f);
      return `<line class="chart-grid" x1="${left}" x2="${width - right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}"></line>
<text class="chart-axis" x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v.toLocaleString("en-US")}</text>`;
    })
    .join("\n");
  // Five day labels at most, the first and the last always.
  const step = Math.max(1, Math.ceil((window.length - 1) / 4));
  const labels = window
    .map((d, i) =>
      i % step === 0 || i === window.length - 1
        ? `<text class="chart-axis" x="${x(i).toFixed(1)}" y="${height - 6}" text-anchor="${i === 0 ? "start" : i === window.length - 1 ? "end" : "middle"}">${escapeHtml(d.slice(5))}</text>`
        : "",
    )
    .join("");
  const lines = series
    .map((s, n) => {
      // Runs of consecutive days with a snapshot: a line each; a lone day is a dot only.
      const runs: Array<Array<[number, number]>> = [];
      let run: Array<[number, number]> = [];
      window.forEach((d, i) => {
        const p = byDay.get(d);
        if (p) run.push([x(i), y(p[s.key])]);
        else if (run.length) runs.push(run), (run = []);
      });
      if (run.length) runs.push(run);
      const paths = runs
        .filter((r) => r.length > 1)
        .map((r) => `<polyline class="trend-line stroke-${escapeHtml(s.colour)}" fill="none" stroke-width="2"${DASHES[n % DASHES.length] ? ` stroke-dasharray="${DASHES[n % DASHES.length]}"` : ""} points="${r.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(" ")}"></polyline>`)
        .join("");
      const dots = window
        .map((d, i) => {
          const p = byDay.get(d);
          return p ? `<circle class="fill-${escapeHtml(s.colour)}" cx="${x(i).toFixed(1)}" cy="${y(p[s.key]).toFixed(1)}" r="${points.length > 45 ? 1.8 : 3}"><title>${escapeHtml(d)}: ${p[s.key].toLocaleString("en-US")} ${escapeHtml(s.label.toLowerCase())}</title></circle>` : "";
        })
        .join("");
      return paths + dots;
    })
    .join("\n");
  const empty = points.length === 0
    ? `<text class="chart-label" x="${(left + plotWidth / 2).toFixed(1)}" y="${(top + plotHeight / 2).toFixed(1)}" text-anchor="middle">No snapshot yet in these ${window.length} days</text>`
    : "";
  const summary = points.length === 0
    ? "no snapshot yet"
    : `${points.length} day${points.length === 1 ? "" : "s"} with a snapshot; latest (${points[points.length - 1]!.day}): ${series.map((s) => `${s.label} ${points[points.length - 1]![s.key]}`).join(", ")}`;
  return html`<figure class="chart">
  <svg role="img" aria-labelledby="${id}-t" viewBox="0 0 ${width} ${height}" width="100%" preserveAspectRatio="xMinYMin meet">
    <title id="${id}-t">${title}, last ${window.length} days: ${summary}</title>
    ${raw(grid)}
    ${raw(labels)}
    ${raw(lines)}
    ${raw(empty)}
  </svg>
  <figcaption class="legend">${series.map(
    (s, n) => html`<span class="swatch-line"><svg aria-hidden="true" width="22" height="10"><line class="stroke-${s.colour}" x1="1" x2="21" y1="5" y2="5" stroke-width="2"${DASHES[n % DASHES.length] ? html` stroke-dasharray="${DASHES[n % DASHES.length]!}"` : ""}></line></svg> ${s.label}</span>`,
  )}</figcaption>
  ${dataTable(title, ["Day", ...series.map((s) => s.label)], [...points].reverse().map((p) => [p.day, ...series.map((s) => p[s.key].toLocaleString("en-US"))]))}
</figure>`;
}
