import type { DailySnapshotRow } from "../../db/snapshot-repository";
import { href, html, type SafeHtml } from "../html";
import { trendChart, windowDays } from "./charts";

export const TREND_WINDOWS = [30, 90] as const;
export type TrendWindow = (typeof TREND_WINDOWS)[number];

/** The overview's trends: verdicts, findings by severity and open runtime violations per day, over 30 or 90 days. */
export function trendsSection(now: Date, days: TrendWindow, snapshots: readonly DailySnapshotRow[]): SafeHtml {
  const window = windowDays(now, days);
  const tab = (d: TrendWindow) =>
    d === days ? html`<strong aria-current="true">${d} days</strong>` : html`<a href="${href("/ui/", { trend: d === 30 ? undefined : d })}#trends-h">${d} days</a>`;
  return html`<section class="card trends" aria-labelledby="trends-h">
  <h2 id="trends-h">Trends</h2>
  <p class="muted small trend-tabs">One snapshot per UTC day (table <code>daily_snapshots</code>), taken by one replica at the start of the day or when it starts. Show ${tab(30)} · ${tab(90)}</p>
  <div class="grid-3">
    <div><h3>Images by verdict</h3>${trendChart("Images by verdict", window, snapshots, [
      { key: "non_compliant", label: "Non-compliant", colour: "denied" },
      { key: "compliant", label: "Compliant", colour: "allowed" },
      { key: "stale", label: "Stale", colour: "medium" },
    ])}</div>
    <div><h3>Vulnerabilities by severity</h3>${trendChart("Vulnerabilities by severity", window, snapshots, [
      { key: "critical", label: "Critical", colour: "critical" },
      { key: "high", label: "High", colour: "high" },
      { key: "medium", label: "Medium", colour: "medium" },
      { key: "low", label: "Low", colour: "low" },
    ])}</div>
    <div><h3>Open runtime violations</h3>${trendChart("Open runtime violations", window, snapshots, [
      { key: "open_violations", label: "Open violations", colour: "denied" },
    ])}</div>
  </div>
</section>`;
}
