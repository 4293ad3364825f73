import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { Pool } from "pg";
import type { Logger } from "pino";
import { TokenService } from "./auth/token-service";
import type { Config } from "./config";
import { openDatabase, pingDatabase, type Database } from "./db/database";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "./db/embedded-postgres";
import { migrate } from "./db/migrator";
import { countRuntimeByClusterAndStatus } from "./db/runtime-read-model";
import { buildApp, observeHttpRequests } from "./http/app";
import { answerClientErrors } from "./http/hardening";
import { LookupHeaderTemplate, withLookupFastPath } from "./http/lookup-fast-path";
import type { AppDependencies } from "./http/app-dependencies";
import { ANONYMOUS, bearerToken, type Authenticator } from "./http/authenticate";
import { KubernetesTokenReviewer, kubernetesOrApiToken } from "./auth/kubernetes-token-review";
import { createEcrIntegration } from "./integrations/ecr";
import { IngestAdmission } from "./ingest/ingest-admission";
import { createLogger } from "./logger";
import { maskStoredCopies } from "./ingest/mask-stored-copies";
import { HistoryPruner } from "./ingest/prune-history";
import { ChangeListener } from "./lookup/change-listener";
import { DecisionLog } from "./lookup/decision-log";
import { ComplianceLookup } from "./lookup/lookup-compliance";
import { VerdictCache } from "./lookup/verdict-cache";
import { StallGuard } from "./lookup/stall-guard";
import { ServiceMetrics } from "./observability/metrics";
import { ExceptionService } from "./policy/exception-service";
import { ExpirySweeper } from "./policy/expiry-sweeper";
import { DailySnapshotTaker } from "./reading/daily-snapshots";
import { PolicyCache } from "./policy/policy-cache";
import { IncidentService } from "./incidents/incident-service";
import { PolicyService } from "./policy/policy-service";
import { TransactionHooks } from "./policy/transaction-hooks";
import { ReadingService } from "./reading/reading-service";
import { registerRuntimeViolationHooks } from "./runtime/violation-hooks";
import { uiRouter } from "./ui/router";
import type { Express } from "express";
import { oldestPendingCreatedAt } from "./db/notification-delivery-repository";
import { NotificationDeliverer } from "./notifications/deliverer";
import { NotificationSettings } from "./notifications/notification-settings";
import { recordVerdictChanges } from "./notifications/verdict-events";

export interface RunningService {
  url: string;
  port: number;
  databaseUrl: string;
  deps: AppDependencies;
  /** The expiry sweep, exposed so that tests with an injected clock can run it without waiting 30 s. */
  sweeper: ExpirySweeper;
  /** This replica's notification deliverer (tests wake it and wait for it to be idle). */
  deliverer: NotificationDeliverer;
  /** The history retention loop (RETENTION_SUPERSEDED_DAYS), null when retention is off; tests run it directly. */
  historyPruner: HistoryPruner | null;
  /** The daily trends snapshot; its start-up run is in the background (tests await it before counting rows). */
  snapshots: DailySnapshotTaker;
  server: http.Server;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  clock?: () => Date;
  /** Print a generated admin token on a first start with none (the CLI does; tests do not). */
  announceToken?: (token: string) => void;
  /** The caller drains and calls close() on SIGTERM/SIGINT (serve does): the embedded database must not stop first. */
  handlesShutdownSignals?: boolean;
}

/**
 * The whole request handler: the API (src/http) and the dashboard (src/ui) as siblings, neither importing the
 * other's routers; the API's 404 and problem answers come last.
 */
export function buildServiceApp(deps: AppDependencies): Express {
  return buildApp(deps, [uiRouter(deps)]);
}

/** Retries until the database answers, logging why: the service may start before its database does. */
async function waitForDatabase(db: Database, logger: Logger, attempts = 60): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      await pingDatabase(db.pool);
      return;
    } catch (error) {
      if (i >= attempts) throw error;
      logger.warn({ attempt: i, err: (error as Error).message }, "database not reachable yet; retrying in 1 s");
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** The composition root: database, migrations, caches, background work, HTTP(S) server. */
export async function startService(config: Config, options: StartOptions = {}): Promise<RunningService> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const clock = options.clock ?? (() => new Date());
  let embedded: EmbeddedDatabase | null = null;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres(config.dataDir, logger, { signalsHandledByCaller: options.handlesShutdownSignals });
    databaseUrl = embedded.url;
  }
  // LISTEN and session-level work need a direct connection; DATABASE_URL may be a transaction pooler (PgBouncer).
  const listenUrl = config.databaseListenUrl ?? databaseUrl;
  const pooled = listenUrl !== databaseUrl;
  const db = openDatabase({ url: databaseUrl, directUrl: listenUrl, pooled, poolSize: config.dbPoolSize, statementTimeoutMs: config.dbStatementTimeoutMs, connectionTimeoutMs: config.dbConnectTimeoutMs });
  await waitForDatabase(db, logger);
  const applied = await migrate(db.sessionPool);
  if (applied.length) logger.info({ applied }, "migrations applied");
  // Copies of reports stored before secret context was masked are masked once (a no-op query afterwards).
  await maskStoredCopies(db.pool, logger);

  const tokens = new TokenService(db.lookupPool, clock, db.prisma);
  if (config.adminToken) {
    const stored = await tokens.ensure(config.adminToken, "admin (ADMIN_TOKEN)", ["admin"]);
    if (stored.state === "created") logger.info("admin token from ADMIN_TOKEN stored");
    // Started without it rather than refused: the Secret is usually still mounted after a revoke, and a start that
    // failed would take every replica down at its next restart. The token stays revoked.
    if (stored.state === "revoked")
      logger.warn(
        { variable: "ADMIN_TOKEN", revoked_at: stored.revokedAt.toISOString() },
        "ADMIN_TOKEN names a token that was revoked; it stays revoked and this start does not use it. Remove ADMIN_TOKEN, or set a new value to create a new admin token.",
      );
  } else if ((await tokens.count()) === 0) {
    const created = await tokens.create({ name: "admin (first start)", scopes: ["admin"], expiresAt: null });
    (options.announceToken ?? ((t: string) => logger.warn({ note: "shown once; store it now" }, `first start: generated admin token ${t.slice(0, 6)}… (printed to stderr)`)))(created.token);
  }
  tokens.start();

  const verdictCache = new VerdictCache(config.verdictCacheSize);
  const policyCache = new PolicyCache(db.pool);
  // A replica that stood still (SIGSTOP, a paused VM) has not read the change notifications of that time yet: its
  // first cache read after resuming clears both caches (src/lookup/stall-guard.ts).
  const stallGuard = new StallGuard();
  stallGuard.whenStalled(() => {
    verdictCache.clear();
    policyCache.invalidate();
    logger.warn("this process stood still for a while: verdict and policy caches cleared");
  });
  verdictCache.stallCheck = () => stallGuard.check();
  policyCache.stallCheck = () => stallGuard.check();
  stallGuard.start();
  const metrics = new ServiceMetrics();
  // Metrics count lookups through the decision log's events (src/observability/events.ts).
  const decisionLog = new DecisionLog(db.pool, logger);
  metrics.collectFrom({ pool: db.pool, verdictCache, decisionLog });
  decisionLog.start();
  const listener = new ChangeListener(listenUrl, verdictCache, policyCache, logger);
  await listener.start();
  // Same-transaction work of every verdict and policy change: features register their hooks here, before anything
  // below can change a verdict (src/policy/transaction-hooks.ts).
  const transactionHooks = new TransactionHooks();
  registerRuntimeViolationHooks(transactionHooks);
  transactionHooks.onVerdictsStored(recordVerdictChanges);
  const sweeper = new ExpirySweeper(db.pool, clock, logger, transactionHooks, undefined, { exceptionExpiryDays: config.notifications.exceptionExpiryDays });
  sweeper.start();
  const sendSettings = { allowPrivateNetworks: config.notifications.allowPrivateNetworks, timeoutMs: config.notifications.timeoutMs, publicUrl: config.publicUrl };
  // The deliverer's own connections: a send in flight holds one (its claimed jobs stay locked until the outcome
  // commits), so receivers that hang can never take a connection from ingest or lookups.
  const notificationPool = new Pool({
    connectionString: databaseUrl,
    max: config.notifications.concurrency + 1,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: pooled ? undefined : config.dbStatementTimeoutMs,
    query_timeout: config.dbStatementTimeoutMs + 1000,
    application_name: "scan-registry-notifications",
    keepAlive: true,
  });
  notificationPool.on("error", () => undefined);
  const deliverer = new NotificationDeliverer({ databaseUrl: listenUrl, pool: notificationPool, clock, logger, config: config.notifications, send: sendSettings });
  await deliverer.start();
  metrics.collectNotificationBacklog(() => oldestPendingCreatedAt(db.pool), clock);
  metrics.collectRuntime(() => countRuntimeByClusterAndStatus(db.pool));
  const pruneTimer = setInterval(() => void decisionLog.prune(config.decisionLogRetentionDays, clock()).catch(() => undefined), 3_600_000);
  pruneTimer.unref();
  // History retention (RETENTION_SUPERSEDED_DAYS): every replica runs the loop, one prunes at a time.
  const historyPruner =
    config.retention.supersededDays === undefined
      ? null
      : new HistoryPruner(db.pool, clock, logger, { olderThanDays: config.retention.supersededDays, batchSize: config.retention.batchSize, intervalMs: config.retention.intervalMs });
  historyPruner?.start();
  // Trends: today's snapshot at start when missing, then once per UTC day (one replica writes it).
  const snapshots = new DailySnapshotTaker(db.pool, clock, logger);
  snapshots.start();

  const authenticate: Authenticator = async (req) => {
    const token = bearerToken(req);
    return token ? tokens.verify(token) : null;
  };
  const reviewer =
    config.lookupAuth === "kubernetes" && config.kubernetesApiUrl
      ? new KubernetesTokenReviewer({ apiUrl: config.kubernetesApiUrl, caFile: config.kubernetesCaFile, tokenFile: config.kubernetesTokenFile, audience: config.kubernetesTokenAudience, allowedUsers: config.kubernetesAllowedUsers, logger, clock: () => clock().getTime() })
      : null;
  const reviewLookup = reviewer ? kubernetesOrApiToken((t) => tokens.verify(t), reviewer) : null;
  const authenticateLookup: Authenticator =
    config.lookupAuth === "none" ? async () => ANONYMOUS : reviewLookup ? async (req) => reviewLookup(bearerToken(req)) : authenticate;
  const ecr = createEcrIntegration({ passTag: config.ecrPassTag, registries: config.ecrRegistries, awsConfigured: config.awsConfigured, logger });
  const lookup = new ComplianceLookup({ pool: db.lookupPool, clock, cache: verdictCache, policyCache, decisionLog, tagResolvers: [ecr.tagResolver], transactionHooks });
  const policyUseCases = { pool: db.pool, prisma: db.prisma, clock, policyCache, verdictCache, changes: listener, transactionHooks };
  const deps: AppDependencies = {
    lookupHeaders: new LookupHeaderTemplate(),
    batchHeaders: new LookupHeaderTemplate(),
    ingestAdmission: new IngestAdmission(config.ingestMemoryBudgetBytes, config.ingestAdmissionWaitMs),
    changes: listener,
    config,
    logger,
    pool: db.pool,
    sessionPool: db.sessionPool,
    prisma: db.prisma,
    clock,
    tokens,
    authenticate,
    authenticateLookup,
    lookup,
    decisionLog,
    verdictCache,
    policyCache,
    policy: new PolicyService(policyUseCases),
    exceptions: new ExceptionService(policyUseCases),
    incidents: new IncidentService(db.pool, clock),
    transactionHooks,
    reading: new ReadingService({ pool: db.pool, prisma: db.prisma }),
    ecr,
    metrics,
    notifications: new NotificationSettings(db.pool, clock, sendSettings),
    isDatabaseReady: async () => {
      try {
        await pingDatabase(db.lookupPool);
        return true;
      } catch {
        return false;
      }
    },
  };
  const app = withLookupFastPath(buildServiceApp(deps), { lookup, authenticateLookup, template: deps.lookupHeaders!, batchTemplate: deps.batchHeaders, maxJsonBodyBytes: config.maxJsonBodyBytes, observe: observeHttpRequests(deps) });
  const server =
    config.tlsCertFile && config.tlsKeyFile
      ? https.createServer({ cert: fs.readFileSync(config.tlsCertFile), key: fs.readFileSync(config.tlsKeyFile) }, app)
      : http.createServer(app);
  answerClientErrors(server);
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 300_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const scheme = config.tlsCertFile ? "https" : "http";
  const url = `${scheme}://${config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host}:${port}`;
  logger.info(
    { url, database: embedded ? "embedded" : "external", lookupAuth: config.lookupAuth, trustProxy: config.trustProxy },
    "scan-registry listening",
  );

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      // Stop accepting, let in-flight requests finish (bounded), then stop background work and the database.
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.closeAllConnections();
          resolve();
        }, 10_000);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
      clearInterval(pruneTimer);
      stallGuard.stop();
      await historyPruner?.stop();
      await snapshots.stop();
      await sweeper.stop();
      await deliverer.stop();
      await decisionLog.stop();
      metrics.close();
      await tokens.stop();
      reviewer?.close();
      await listener.stop();
      ecr.clients.destroy();
      await db.close();
      await embedded?.stop();
    })());
  return { url, port, databaseUrl, deps, sweeper, deliverer, historyPruner, snapshots, server, close };
}
