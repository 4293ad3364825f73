import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type Metric } from "prom-client";
import type { Pool } from "pg";
import { RequestDurations } from "./request-durations";
import {
  lookupAnsweredChannel,
  notificationAttemptChannel,
  reevaluationChannel,
  reportIngestedChannel,
  type LookupAnsweredEvent,
  type NotificationAttemptEvent,
  type ReevaluationEvent,
  type ReportIngestedEvent,
} from "./events";

/** What the scrape-time collectors read: the app's pool, verdict cache and decision log (structurally: no imports up). */
export interface MetricSources {
  pool: Pick<Pool, "totalCount" | "idleCount" | "waitingCount">;
  verdictCache: { readonly hits: number; readonly misses: number };
  decisionLog: { readonly depth: number; readonly dropped: number };
}

/** What collectRuntime reads: counts by cluster and status (structurally the read model's RuntimeCounts). */
export interface RuntimeCountsSample {
  running: { cluster: string; status: string; n: number }[];
  violations: { cluster: string; status: string; n: number }[];
}

/** Lookups are sub-millisecond when cached; uploads and re-evaluations take seconds. */
const HTTP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const REEVALUATION_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120];


/**
 * The service's Prometheus metrics, in a registry of its own (not prom-client's global one, so several apps can run
 * in one process). What is fed on every request (durations, lookups by status) is kept in plain fields and handed to
 * prom-client at scrape time, so the request path never pays for its label validation and hashing.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly httpDurations = new RequestDurations(HTTP_BUCKETS);
  private readonly lookupCounts = new Map<string, number>();
  private readonly reports: Counter<"format">;
  private readonly findings: Counter;
  private readonly reevaluation: Histogram<"scope">;
  private readonly notificationDeliveries: Counter<"type" | "outcome">;
  private readonly unsubscribe: Array<() => void> = [];

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.registry.registerMetric(this.httpDurations as unknown as Metric);
    const lookupCounts = this.lookupCounts;
    new Counter({
      name: "scan_registry_lookups_total",
      help: "Compliance lookups answered (one per image; a batch check counts each image), by verdict status",
      labelNames: ["status"],
      registers,
      collect() {
        this.reset();
        for (const [status, n] of lookupCounts) this.inc({ status }, n);
      },
    });
    this.reports = new Counter({
      name: "scan_registry_reports_total",
      help: "Reports stored, by format (duplicates of a stored report not counted)",
      labelNames: ["format"],
      registers,
    });
    this.findings = new Counter({ name: "scan_registry_findings_ingested_total", help: "Findings stored from uploaded reports", registers });
    this.reevaluation = new Histogram({
      name: "scan_registry_reevaluation_duration_seconds",
      help: "Duration of re-evaluations of stored verdicts, by scope (all: policy change; digests: exception or one image; expired: a passed expiry or scan age)",
      labelNames: ["scope"],
      buckets: REEVALUATION_BUCKETS,
      registers,
    });
    this.notificationDeliveries = new Counter({
      name: "scan_registry_notification_deliveries_total",
      help: "Notification delivery attempts, one per event and destination, by destination type and outcome (delivered; retrying: failed, retried later; failed: no more retries)",
      labelNames: ["type", "outcome"],
      registers,
    });
    const onNotificationAttempt = (message: unknown) => {
      const event = message as NotificationAttemptEvent;
      for (const outcome of ["delivered", "retrying", "failed"] as const)
        if (event[outcome] > 0) this.notificationDeliveries.inc({ type: event.destinationType, outcome }, event[outcome]);
    };
    notificationAttemptChannel.subscribe(onNotificationAttempt);
    this.unsubscribe.push(() => notificationAttemptChannel.unsubscribe(onNotificationAttempt));
    const onReport = (message: unknown) => {
      const event = message as ReportIngestedEvent;
      if (event.duplicate) return;
      this.reports.inc({ format: event.format });
      this.findings.inc(event.findings);
    };
    const onReevaluation = (message: unknown) => {
      const event = message as ReevaluationEvent;
      this.reevaluation.observe({ scope: event.scope }, event.seconds);
    };
    const onLookup = (message: unknown) => this.lookupAnswered((message as LookupAnsweredEvent).status);
    reportIngestedChannel.subscribe(onReport);
    reevaluationChannel.subscribe(onReevaluation);
    lookupAnsweredChannel.subscribe(onLookup);
    this.unsubscribe.push(
      () => reportIngestedChannel.unsubscribe(onReport),
      () => reevaluationChannel.unsubscribe(onReevaluation),
      () => lookupAnsweredChannel.unsubscribe(onLookup),
    );
  }

  /** Adds the gauges and counters read at scrape time from the app's pool, cache and decision log. */
  collectFrom(sources: MetricSources): this {
    const registers = [this.registry];
    new Counter({
      name: "scan_registry_verdict_cache_hits_total",
      help: "Lookups answered from the in-process verdict cache",
      registers,
      collect() {
        this.reset();
        this.inc(sources.verdictCache.hits);
      },
    });
    new Counter({
      name: "scan_registry_verdict_cache_misses_total",
      help: "Lookups that read the database (not cached, expired, or cache disabled)",
      registers,
      collect() {
        this.reset();
        this.inc(sources.verdictCache.misses);
      },
    });
    new Counter({
      name: "scan_registry_decision_log_dropped_total",
      help: "Admission decisions dropped unwritten because the queue was full (the database down or slower than the lookups)",
      registers,
      collect() {
        this.reset();
        this.inc(sources.decisionLog.dropped);
      },
    });
    new Gauge({
      name: "scan_registry_decision_log_queue_depth",
      help: "Admission decisions waiting to be written to admission_decisions",
      registers,
      collect() {
        this.set(sources.decisionLog.depth);
      },
    });
    new Gauge({
      name: "scan_registry_db_pool_connections",
      help: "PostgreSQL pool connections: total open, idle, and requests waiting for one",
      labelNames: ["state"],
      registers,
      collect() {
        this.set({ state: "total" }, sources.pool.totalCount);
        this.set({ state: "idle" }, sources.pool.idleCount);
        this.set({ state: "waiting" }, sources.pool.waitingCount);
      },
    });
    return this;
  }

  /** The age of the oldest undelivered notification, read from the database at scrape time. */
  collectNotificationBacklog(oldestPending: () => Promise<Date | null>, clock: () => Date): this {
    new Gauge({
      name: "scan_registry_notification_oldest_pending_seconds",
      help: "Age of the oldest notification not yet delivered to a destination (0 when none is pending)",
      registers: [this.registry],
      async collect() {
        try {
          const at = await oldestPending();
          this.set(at ? Math.max(0, (clock().getTime() - at.getTime()) / 1000) : 0);
        } catch {
          // Database unreachable: keep the last value rather than fail the whole scrape.
        }
      },
    });
    return this;
  }

  /**
   * Running containers and open runtime violations by cluster and status, read from the database at scrape time
   * (one grouped query per scrape, shared by both gauges). No namespace or digest labels: the series stay bounded by
   * clusters × statuses, whatever runs.
   */
  collectRuntime(counts: () => Promise<RuntimeCountsSample>): this {
    let inFlight: Promise<RuntimeCountsSample> | null = null;
    // A scrape collects every metric at once: the second gauge joins the first's query while it runs.
    const read = () => {
      inFlight ??= counts().finally(() => {
        inFlight = null;
      });
      return inFlight;
    };
    const gauge = (name: string, help: string, pick: (c: RuntimeCountsSample) => RuntimeCountsSample["running"]) =>
      new Gauge({
        name,
        help,
        labelNames: ["cluster", "status"],
        registers: [this.registry],
        async collect() {
          try {
            const rows = pick(await read());
            this.reset();
            for (const r of rows) this.set({ cluster: r.cluster, status: r.status }, r.n);
          } catch {
            // Database unreachable: keep the last values rather than fail the whole scrape.
          }
        },
      });
    gauge(
      "scan_registry_running_containers",
      "Workload containers running now (inventory, agent, Trivy Operator), by cluster and their image's status (compliant, non_compliant, stale, not_scanned, unresolved)",
      (c) => c.running,
    );
    gauge(
      "scan_registry_runtime_violations_open",
      "Runtime violations open now (a running container whose image is not compliant), by cluster and the image's status when it opened",
      (c) => c.violations,
    );
    return this;
  }

  /** One finished HTTP request; `route` is the Express pattern (never the raw URL, which holds digests). */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.httpDurations.observe(method, route, status, seconds);
  }

  lookupAnswered(status: string): void {
    this.lookupCounts.set(status, (this.lookupCounts.get(status) ?? 0) + 1);
  }

  /** Stops listening to domain events; the registry can still be read. */
  close(): void {
    for (const stop of this.unsubscribe.splice(0)) stop();
  }
}
