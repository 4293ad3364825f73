import net from "node:net";
import path from "node:path";
import { z } from "zod";
import { MAX_TOKEN_LENGTH } from "./auth/token-service";
import { awsConfiguredIn, parseEcrRegistries, type EcrRegistriesSetting } from "./integrations/ecr/registries";

const byteSize = z
  .string()
  .regex(/^\d+(\.\d+)?\s*(b|kb|mb|gb|k|m|g)?$/i, "a size such as 52428800, 50mb or 1gb")
  .transform((v) => {
    const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(v.trim())!;
    const unit = (m[2] ?? "").toLowerCase().replace(/b$/, "");
    const mult = unit === "k" ? 1024 : unit === "m" ? 1024 ** 2 : unit === "g" ? 1024 ** 3 : 1;
    return Math.floor(Number(m[1]) * mult);
  })
  .pipe(z.number().int().min(1024, "at least 1kb"));

/** true/false (also 1/0, yes/no), so NOTIFICATION_ALLOW_PRIVATE_NETWORKS=TRUE is not silently false. */
const booleanText = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(["true", "false", "1", "0", "yes", "no"], { message: "true or false" }))
  .transform((v) => v === "true" || v === "1" || v === "yes");

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v));

/** Express's `trust proxy`: false, true (any hop), a hop count, or the proxies' addresses / subnets / presets. */
export type TrustProxySetting = boolean | number | string[];

const TRUST_PROXY_PRESETS = ["loopback", "linklocal", "uniquelocal"];

/** TRUST_PROXY: unset/false, true, a number of hops, or a comma-separated list of IPs, CIDR subnets and presets. */
function parseTrustProxy(value: string | undefined): TrustProxySetting | { error: string } {
  const v = (value ?? "").trim();
  if (v === "" || /^(false|0|no)$/i.test(v)) return false;
  if (/^(true|yes)$/i.test(v)) return true;
  if (/^\d+$/.test(v)) return Number(v) <= 100 ? Number(v) : { error: "a number of proxy hops is at most 100" };
  const entries = v.split(",").map((e) => e.trim()).filter((e) => e !== "");
  for (const entry of entries) {
    if (TRUST_PROXY_PRESETS.includes(entry)) continue;
    const [address, prefix, extra] = entry.split("/");
    const family = net.isIP(address ?? "");
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 6 ? 128 : 32));
    if (family === 0 || !prefixOk || extra !== undefined)
      return { error: `${JSON.stringify(entry)} is not an IP address, a CIDR subnet or one of ${TRUST_PROXY_PRESETS.join(", ")} (or use true, false or a number of hops)` };
  }
  return entries;
}

/** The environment, validated once at start. A bad value stops the start with a message naming the variable. */
export /** A whole number in a range, said so in its error (the retention variables and the `prune` options they stand for). */
function wholeNumber(min: number, max: number) {
  const message = `a whole number from ${min} to ${max}`;
  return z.coerce.number<string | undefined>({ message }).int(message).min(min, message).max(max, message);
}

const environmentSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default("0.0.0.0"),
  DATABASE_URL: optionalText.pipe(
    z.string().regex(/^postgres(ql)?:\/\//, "a postgres:// or postgresql:// URL").optional(),
  ),
  DATA_DIR: z.string().min(1).default("./.data"),
  ADMIN_TOKEN: optionalText.pipe(z.string().min(16, "at least 16 characters").max(MAX_TOKEN_LENGTH, `at most ${MAX_TOKEN_LENGTH} characters`).optional()),
  MAX_REPORT_BYTES: byteSize.default(50 * 1024 * 1024),
  MAX_REPORT_FINDINGS: z.coerce.number().int().min(1).max(100_000_000).default(200_000),
  INGEST_MEMORY_BUDGET_BYTES: byteSize.default(192 * 1024 * 1024),
  INGEST_ADMISSION_WAIT_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  LOOKUP_AUTH: z.enum(["token", "none", "kubernetes"]).default("token"),
  METRICS_AUTH: z.enum(["token", "none"]).default("token"),
  DECISION_LOG_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  DB_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  VERDICT_CACHE_SIZE: z.coerce.number().int().min(0).max(10_000_000).default(100_000),
  ECR_PASS_TAG: optionalText,
  ECR_REGISTRIES: optionalText.transform((v, ctx): EcrRegistriesSetting => {
    if (v === undefined) return undefined;
    const parsed = parseEcrRegistries(v);
    if ("error" in parsed) {
      ctx.addIssue({ code: "custom", message: parsed.error });
      return z.NEVER;
    }
    return parsed.entries;
  }),
  TLS_CERT_FILE: optionalText,
  TLS_KEY_FILE: optionalText,
  KUBERNETES_TOKEN_AUDIENCE: z.string().min(1).default("kyverno-svc.kyverno.io"),
  KUBERNETES_API_URL: optionalText.pipe(z.string().regex(/^https?:\/\//, "an http:// or https:// URL").optional()),
  KUBERNETES_CA_FILE: z.string().min(1).default("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"),
  KUBERNETES_TOKEN_FILE: z.string().min(1).default("/var/run/secrets/kubernetes.io/serviceaccount/token"),
  KUBERNETES_ALLOWED_USERS: optionalText,
  KUBERNETES_SERVICE_HOST: optionalText,
  KUBERNETES_SERVICE_PORT: optionalText,
  RATE_LIMIT_INGEST_PER_MINUTE: z.coerce.number().int().min(0).max(1_000_000).default(600),
  MAX_JSON_BODY_BYTES: byteSize.default(1024 * 1024),
  MAX_INVENTORY_BYTES: byteSize.default(128 * 1024 * 1024),
  MAX_INVENTORY_PODS: z.coerce.number().int().min(1).max(1_000_000).default(50_000),
  TRUST_PROXY: optionalText.transform((v, ctx): TrustProxySetting => {
    const parsed = parseTrustProxy(v);
    if (typeof parsed === "object" && !Array.isArray(parsed)) {
      ctx.addIssue({ code: "custom", message: parsed.error });
      return z.NEVER;
    }
    return parsed;
  }),
  PUBLIC_URL: optionalText.pipe(z.string().regex(/^https?:\/\/[^\s]+$/, "an http:// or https:// URL").optional()),
  NOTIFICATION_ALLOW_PRIVATE_NETWORKS: booleanText.default(false),
  NOTIFICATION_DELIVERY_ENABLED: booleanText.default(true),
  NOTIFY_EXCEPTION_EXPIRY_DAYS: z.coerce.number().int().min(0).max(365).default(7),
  NOTIFICATION_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  NOTIFICATION_POLL_INTERVAL_MS: z.coerce.number().int().min(10).max(600_000).default(5_000),
  NOTIFICATION_RETRY_INITIAL_MS: z.coerce.number().int().min(10).max(3_600_000).default(10_000),
  NOTIFICATION_RETRY_MAX_MS: z.coerce.number().int().min(10).max(86_400_000).default(3_600_000),
  NOTIFICATION_RETRY_HOURS: z.coerce.number().min(0.001).max(720).default(24),
  NOTIFICATION_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(8),
  NOTIFICATION_CONCURRENCY_PER_DESTINATION: z.coerce.number().int().min(1).max(64).default(2),
  NOTIFICATION_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  RETENTION_SUPERSEDED_DAYS: optionalText.pipe(wholeNumber(1, 36_500).optional()),
  RETENTION_BATCH_SIZE: wholeNumber(1000, 5000).default(2000),
  RETENTION_INTERVAL_MINUTES: z.coerce.number().int().min(1).max(10_080).default(60),
  DATABASE_LISTEN_URL: optionalText.pipe(
    z.string().regex(/^postgres(ql)?:\/\//, "a postgres:// or postgresql:// URL").optional(),
  ),
});

export type Config = Readonly<{
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  adminToken: string | undefined;
  maxReportBytes: number;
  /** Findings per report at most (413 too_many_findings above). */
  maxReportFindings: number;
  /** Working memory that concurrent ingests of one replica may hold, estimated per report (src/ingest/ingest-admission.ts). */
  ingestMemoryBudgetBytes: number;
  /** How long an upload waits for room in that budget before 503 ingest_busy. */
  ingestAdmissionWaitMs: number;
  logLevel: z.infer<typeof environmentSchema>["LOG_LEVEL"];
  lookupAuth: "token" | "none" | "kubernetes";
  metricsAuth: "token" | "none";
  decisionLogRetentionDays: number;
  dbPoolSize: number;
  dbStatementTimeoutMs: number;
  /** How long a write or read waits for a connection of the main pool before it answers 503. */
  dbConnectTimeoutMs: number;
  verdictCacheSize: number;
  ecrPassTag: string | undefined;
  /** ECR registries that lookups, events and pass tags may call AWS for; undefined = the credentials' account. */
  ecrRegistries: EcrRegistriesSetting;
  /** Whether AWS's own variables configure credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE, IRSA, ...). */
  awsConfigured: boolean;
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  kubernetesTokenAudience: string;
  /** TokenReview endpoint base: KUBERNETES_API_URL, else in-cluster https://KUBERNETES_SERVICE_HOST:PORT (LOOKUP_AUTH=kubernetes). */
  kubernetesApiUrl: string | undefined;
  kubernetesCaFile: string;
  kubernetesTokenFile: string;
  /** Service-account usernames allowed to look up (empty = any authenticated one). */
  kubernetesAllowedUsers: string[];
  /** Uploads per minute per token on ingest endpoints; 0 = unlimited. */
  rateLimitIngestPerMinute: number;
  /** Size limit for every JSON body except reports (which have MAX_REPORT_BYTES) and inventory snapshots. */
  maxJsonBodyBytes: number;
  /** Size limit of an inventory snapshot (POST /v1/inventory), decoded bytes. */
  maxInventoryBytes: number;
  /** Most Pods one inventory snapshot may hold. */
  maxInventoryPods: number;
  /** The URL people reach this service at (links in notifications); undefined = messages carry no links. */
  publicUrl: string | undefined;
  /**
   * TRUST_PROXY, as Express's `trust proxy`: which hops' X-Forwarded-For/-Proto to believe. Behind a TLS-terminating
   * proxy it makes req.secure true, so the dashboard's cookie gets Secure.
   */
  trustProxy: TrustProxySetting;
  notifications: NotificationConfig;
  retention: RetentionConfig;
  /** Where LISTEN connects (a direct connection, not through a transaction pooler); undefined = the database URL. */
  databaseListenUrl: string | undefined;
}>;

/** History retention (docs/operations.md, "History retention"). */
export type RetentionConfig = Readonly<{
  /** Superseded reports received more than this many days ago lose findings and raw copy; undefined = kept forever. */
  supersededDays: number | undefined;
  /** Findings deleted per statement (each its own transaction). */
  batchSize: number;
  /** How often a replica's background run starts (one replica prunes at a time). */
  intervalMs: number;
}>;

/** Delivery of notifications (docs/notifications.md). */
export type NotificationConfig = Readonly<{
  /** Loopback and private (RFC 1918, unique-local, CGNAT) addresses may be sent to; link-local and metadata never. */
  allowPrivateNetworks: boolean;
  /** This replica sends due notifications (events are written by every replica regardless). */
  deliveryEnabled: boolean;
  /** exception.expiring is written this many days before an exception expires; 0 = never. */
  exceptionExpiryDays: number;
  /** Whole-attempt limit: connect, send, answer and the (bounded) response body. */
  timeoutMs: number;
  /** Due deliveries are looked for this often, besides the NOTIFY after each change commits. */
  pollIntervalMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
  /** Retries stop, and the delivery is marked failed, this long after the event. */
  retryForMs: number;
  /** Sends in flight on this replica at most, and per destination at most. */
  concurrency: number;
  concurrencyPerDestination: number;
  retentionDays: number;
}>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Parses the environment once; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = environmentSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${String(i.path[0] ?? "environment")}: ${i.message}`),
    );
  }
  const e = parsed.data;
  if ((e.TLS_CERT_FILE === undefined) !== (e.TLS_KEY_FILE === undefined)) {
    throw new ConfigError(["TLS_CERT_FILE and TLS_KEY_FILE: set both or neither"]);
  }
  const kubernetesApiUrl =
    e.KUBERNETES_API_URL ?? (e.KUBERNETES_SERVICE_HOST ? `https://${e.KUBERNETES_SERVICE_HOST.includes(":") ? `[${e.KUBERNETES_SERVICE_HOST}]` : e.KUBERNETES_SERVICE_HOST}:${e.KUBERNETES_SERVICE_PORT ?? "443"}` : undefined);
  if (e.LOOKUP_AUTH === "kubernetes" && !kubernetesApiUrl)
    throw new ConfigError(["KUBERNETES_API_URL: LOOKUP_AUTH=kubernetes needs the Kubernetes API (in a cluster KUBERNETES_SERVICE_HOST is set; elsewhere set KUBERNETES_API_URL)"]);
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    dataDir: path.resolve(e.DATA_DIR),
    adminToken: e.ADMIN_TOKEN,
    maxReportBytes: e.MAX_REPORT_BYTES,
    maxReportFindings: e.MAX_REPORT_FINDINGS,
    ingestMemoryBudgetBytes: e.INGEST_MEMORY_BUDGET_BYTES,
    ingestAdmissionWaitMs: e.INGEST_ADMISSION_WAIT_MS,
    logLevel: e.LOG_LEVEL,
    lookupAuth: e.LOOKUP_AUTH,
    metricsAuth: e.METRICS_AUTH,
    decisionLogRetentionDays: e.DECISION_LOG_RETENTION_DAYS,
    dbPoolSize: e.DB_POOL_SIZE,
    dbStatementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
    dbConnectTimeoutMs: e.DB_CONNECT_TIMEOUT_MS,
    verdictCacheSize: e.VERDICT_CACHE_SIZE,
    ecrPassTag: e.ECR_PASS_TAG,
    ecrRegistries: e.ECR_REGISTRIES,
    awsConfigured: awsConfiguredIn(env),
    tlsCertFile: e.TLS_CERT_FILE,
    tlsKeyFile: e.TLS_KEY_FILE,
    kubernetesTokenAudience: e.KUBERNETES_TOKEN_AUDIENCE,
    kubernetesApiUrl,
    kubernetesCaFile: e.KUBERNETES_CA_FILE,
    kubernetesTokenFile: e.KUBERNETES_TOKEN_FILE,
    kubernetesAllowedUsers: (e.KUBERNETES_ALLOWED_USERS ?? "").split(",").map((u) => u.trim()).filter((u) => u !== ""),
    rateLimitIngestPerMinute: e.RATE_LIMIT_INGEST_PER_MINUTE,
    maxJsonBodyBytes: e.MAX_JSON_BODY_BYTES,
    maxInventoryBytes: e.MAX_INVENTORY_BYTES,
    maxInventoryPods: e.MAX_INVENTORY_PODS,
    publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ""),
    trustProxy: e.TRUST_PROXY,
    notifications: Object.freeze({
      allowPrivateNetworks: e.NOTIFICATION_ALLOW_PRIVATE_NETWORKS,
      deliveryEnabled: e.NOTIFICATION_DELIVERY_ENABLED,
      exceptionExpiryDays: e.NOTIFY_EXCEPTION_EXPIRY_DAYS,
      timeoutMs: e.NOTIFICATION_TIMEOUT_MS,
      pollIntervalMs: e.NOTIFICATION_POLL_INTERVAL_MS,
      retryInitialMs: e.NOTIFICATION_RETRY_INITIAL_MS,
      retryMaxMs: Math.max(e.NOTIFICATION_RETRY_MAX_MS, e.NOTIFICATION_RETRY_INITIAL_MS),
      retryForMs: Math.round(e.NOTIFICATION_RETRY_HOURS * 3_600_000),
      concurrency: e.NOTIFICATION_CONCURRENCY,
      concurrencyPerDestination: Math.min(e.NOTIFICATION_CONCURRENCY_PER_DESTINATION, e.NOTIFICATION_CONCURRENCY),
      retentionDays: e.NOTIFICATION_RETENTION_DAYS,
    }),
    retention: Object.freeze({
      supersededDays: e.RETENTION_SUPERSEDED_DAYS,
      batchSize: e.RETENTION_BATCH_SIZE,
      intervalMs: e.RETENTION_INTERVAL_MINUTES * 60_000,
    }),
    databaseListenUrl: e.DATABASE_LISTEN_URL,
  });
}
