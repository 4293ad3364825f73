import type { Pool } from "pg";
import type { Logger } from "pino";
import type { TokenService } from "../auth/token-service";
import type { Config } from "../config";
import type { IngestAdmission } from "../ingest/ingest-admission";
import type { PrismaClient } from "../generated/prisma/client";
import type { EcrIntegration } from "../integrations/ecr";
import type { ComplianceLookup } from "../lookup/lookup-compliance";
import type { DecisionLog } from "../lookup/decision-log";
import type { VerdictCache } from "../lookup/verdict-cache";
import type { ServiceMetrics } from "../observability/metrics";
import type { PolicyCache } from "../policy/policy-cache";
import type { ExceptionService } from "../policy/exception-service";
import type { IncidentService } from "../incidents/incident-service";
import type { PolicyService } from "../policy/policy-service";
import type { TransactionHooks } from "../policy/transaction-hooks";
import type { ReadingService } from "../reading/reading-service";
import type { Authenticator } from "./authenticate";
import type { LookupHeaderTemplate } from "./lookup-fast-path";
import type { ChangeListener } from "../lookup/change-listener";
import type { NotificationSettings } from "../notifications/notification-settings";

/** Everything the HTTP layer uses, passed in by the composition root (src/server.ts) or by a test. */
export interface AppDependencies {
  config: Config;
  logger: Logger;
  pool: Pool;
  /** Direct connections for session-level advisory locks (DATABASE_LISTEN_URL); `pool` when absent. */
  sessionPool?: Pool;
  prisma: PrismaClient;
  clock: () => Date;
  tokens: TokenService;
  /** Authenticates API calls (bearer API tokens). */
  authenticate: Authenticator;
  /** Authenticates compliance lookups (LOOKUP_AUTH: token, none or kubernetes). */
  authenticateLookup: Authenticator;
  lookup: ComplianceLookup;
  decisionLog: DecisionLog;
  verdictCache: VerdictCache;
  policyCache: PolicyCache;
  /** The policy use cases (API and dashboard share them); each write drops every replica's cached verdicts. */
  policy: PolicyService;
  /** What the reading endpoints and the dashboard's pages read (src/reading). */
  reading: ReadingService;
  /** The exception use cases, likewise. */
  exceptions: ExceptionService;
  /** Incidents: their timelines and links (API and dashboard share them). */
  incidents: IncidentService;
  /** Same-transaction work of verdict and policy changes (runtime violations, outbox events), run by the use cases. */
  transactionHooks: TransactionHooks;
  /** This app's Prometheus registry and the counters the HTTP layer feeds. */
  metrics: ServiceMetrics;
  /** Amazon ECR clients, pass-tag writer and tag resolver (absent in apps built without it). */
  ecr?: EcrIntegration;
  /** Admits report uploads against this replica's ingest memory budget (INGEST_MEMORY_BUDGET_BYTES). */
  ingestAdmission: IngestAdmission;
  /** Headers of a lookup answer, captured for the lookup fast path (src/http/lookup-fast-path.ts); absent = no fast path. */
  lookupHeaders?: LookupHeaderTemplate;
  /** The same for a batch check's answer (POST /v1/compliance/check); absent = no batch fast path. */
  batchHeaders?: LookupHeaderTemplate;
  /** This replica's change listener: waits until every replica has dropped the verdicts a commit changed. */
  changes?: ChangeListener;
  /** Notification destinations, rules and the deliveries log. */
  notifications: NotificationSettings;
  /** Whether the database answered recently; /readyz reads it. */
  isDatabaseReady: () => Promise<boolean>;
}
