import type { Pool } from "pg";
import type { PolicyVersion } from "../domain/policy";
import { loadActivePolicy } from "./policy-repository";

/** The policy in force, read once and kept until a policy change is notified (or 30 s pass, if one was lost). */
export class PolicyCache {
  private current: { policy: PolicyVersion; loadedAt: number } | null = null;
  private loading: Promise<PolicyVersion> | null = null;

  constructor(
    private readonly pool: Pool,
    private readonly maxAgeMs = 30_000,
  ) {}

  async get(nowMs = Date.now()): Promise<PolicyVersion> {
    if (this.current && nowMs - this.current.loadedAt <= this.maxAgeMs) return this.current.policy;
    this.loading ??= loadActivePolicy(this.pool)
      .then((policy) => {
        this.current = { policy, loadedAt: Date.now() };
        return policy;
      })
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }

  invalidate(): void {
    this.current = null;
  }
}
