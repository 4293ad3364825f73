import fs from "node:fs";
import path from "node:path";
import type { Machine } from "./machine";

/** One row of bench/results.json: the measured value beside its baseline from the same run. */
export interface ScenarioResult {
  name: string;
  value: number;
  unit: string;
  baseline: string;
  baseline_value: number;
  /** value / baseline_value. */
  ratio: number;
  /** The figure from PRODUCT.md, in words, e.g. "ratio >= 0.90". */
  target: string;
  pass: boolean;
  details: Record<string, unknown>;
}

export interface BenchResults {
  generated_at: string;
  machine: Machine;
  /** How the run went: build status, machine load (other work on the machine skews every figure), rounds. */
  conditions: Record<string, unknown>;
  scenarios: ScenarioResult[];
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString("en-US");
  return String(Math.round(n * 100) / 100);
}

export function toMarkdown(results: BenchResults): string {
  const m = results.machine;
  const lines = [
    "# Benchmark results",
    "",
    `Measured by \`npm run bench\` on ${results.generated_at}: ${m.cpus} × ${m.cpu_model}, ${m.memory_gb} GB RAM, ` +
      `Node.js ${m.node}, PostgreSQL ${m.postgres} (embedded), ${m.os}. Load generator, service and database share the machine; ` +
      `1-minute load average ${String(results.conditions.load_average_1m_before)} before and ${String(results.conditions.load_average_1m_after)} after the run; build: ${String(results.conditions.build)}.`,
    "",
    "| Scenario | Value | Baseline (same run) | Baseline value | Ratio | Target | Pass |",
    "|---|---|---|---|---|---|---|",
    ...results.scenarios.map(
      (s) =>
        `| \`${s.name}\` | ${fmt(s.value)} ${s.unit} | ${s.baseline} | ${fmt(s.baseline_value)} ${s.unit} | ${s.ratio} | ${s.target} | ${s.pass ? "yes" : "**no**"} |`,
    ),
    "",
    "Ratio is value ÷ baseline value. Every value and baseline value is the median over the rounds listed in `bench/results.json` (`details`), except for `lookup_p99` and `batch_check_10`: there each is a percentile of one steady run at a fixed request rate (`details`).",
    "",
  ];
  return lines.join("\n");
}

export function writeResults(dir: string, results: BenchResults): void {
  // BENCH_OUT may name a directory that does not exist yet: a finished run's figures are not lost for it.
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "results.json"), JSON.stringify(results, null, 2) + "\n");
  fs.writeFileSync(path.join(dir, "RESULTS.md"), toMarkdown(results));
}
