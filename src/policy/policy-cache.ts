import type { Pool } from "pg";
import type { PolicyVersion } from "../domain/policy";
import { loadActivePolicy } from "../db/policy-repository";

/** The policy in force, read once and kept until a policy change is notified (or 30 s pass, if one was lost). */
export class PolicyCache {
  private current: { policy: PolicyVersion; loadedAtMs: number } | null = null;
  private loading: Promise<PolicyVersion> | null = null;
  /** Bumped by every invalidation: a load that started before one may have read the replaced policy. */
  private generation = 0;
  /** As the verdict cache's: a read after the process stood still drops the cached policy first. */
  stallCheck: (() => boolean) | null = null;

  constructor(
    private readonly pool: Pool,
    private readonly maxAgeMs = 30_000,
  ) {}

  async get(nowMs = Date.now()): Promise<PolicyVersion> {
    if (this.stallCheck !== null) this.stallCheck();
    if (this.current && nowMs - this.current.loadedAtMs <= this.maxAgeMs) return this.current.policy;
    if (!this.loading) {
      const generation = this.generation;
      const loading = loadActivePolicy(this.pool).then((policy) => {
        if (generation === this.generation) this.current = { policy, loadedAtMs: nowMs };
        return policy;
      });
      this.loading = loading;
      loading.finally(() => {
        if (this.loading === loading) this.loading = null;
      }).catch(() => undefined);
    }
    return this.loading;
  }

  invalidate(): void {
    this.generation++;
    this.current = null;
    this.loading = null;
  }
}
