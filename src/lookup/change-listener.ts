import { Client } from "pg";
import type { Logger } from "pino";
import { POLICY_CHANNEL, VERDICT_CHANNEL } from "../db/queryable";
import type { PolicyCache } from "../policy/policy-cache";
import type { VerdictCache } from "./verdict-cache";

/**
 * Keeps this replica's caches in step with every other replica through PostgreSQL LISTEN/NOTIFY. While the
 * connection is down nothing can be heard, so the caches are cleared on every (re)connect: a lost notification
 * never leaves a stale entry behind a reconnect.
 */
export class ChangeListener {
  private client: Client | null = null;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private connected = false;

  constructor(
    private readonly url: string,
    private readonly verdicts: VerdictCache,
    private readonly policy: PolicyCache,
    private readonly logger: Logger,
  ) {}

  get isConnected(): boolean {
    return this.connected;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = null;
    this.connected = false;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new Client({ connectionString: this.url, application_name: "scan-registry-listener", keepAlive: true, connectionTimeoutMillis: 2000 });
    client.on("notification", (msg) => {
      if (msg.channel === POLICY_CHANNEL) {
        this.policy.invalidate();
        this.verdicts.clear();
      } else if (msg.channel === VERDICT_CHANNEL) {
        if (!msg.payload || msg.payload === "*") this.verdicts.clear();
        else this.verdicts.invalidate(msg.payload.split(","));
      }
    });
    const onLost = (error?: Error) => {
      if (this.client !== client) return;
      this.client = null;
      this.connected = false;
      this.verdicts.enabled = false;
      this.verdicts.clear();
      this.policy.invalidate();
      if (!this.stopped) {
        this.logger.warn({ err: error?.message }, "change listener lost its connection; caches cleared, reconnecting");
        this.scheduleReconnect();
      }
    };
    client.on("error", onLost);
    client.on("end", () => onLost());
    try {
      await client.connect();
      await client.query(`LISTEN ${VERDICT_CHANNEL}`);
      await client.query(`LISTEN ${POLICY_CHANNEL}`);
      this.client = client;
      this.connected = true;
      this.verdicts.enabled = true;
      // Whatever changed while we were not listening is unknown: start from empty caches.
      this.verdicts.clear();
      this.policy.invalidate();
    } catch (error) {
      await client.end().catch(() => undefined);
      this.logger.warn({ err: (error as Error).message }, "change listener could not connect; retrying");
      this.verdicts.enabled = false;
      this.verdicts.clear();
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, 1000);
    this.retryTimer.unref();
  }
}
