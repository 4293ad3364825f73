import fc from "fast-check";
import { policyRulesSchema, type PolicyRules } from "../../src/domain/policy";
import { SEVERITIES } from "../../src/domain/severity";

const limit = fc.integer({ min: 0, max: 3 });

/** Any policy a user can PUT, through the policy's own schema (so defaults are applied as the service applies them). */
export const policyRulesArbitrary: fc.Arbitrary<PolicyRules> = fc
  .record({
    max_severity_counts: fc.record({ CRITICAL: limit, HIGH: limit, MEDIUM: limit, LOW: limit, UNKNOWN: limit }, { requiredKeys: [] }),
    ignore_unfixed: fc.boolean(),
    block_secrets: fc.boolean(),
    block_misconfiguration_severities: fc.subarray([...SEVERITIES]),
    max_scan_age_days: fc.option(fc.integer({ min: 1, max: 60 }), { nil: null }),
    unscanned: fc.constantFrom("deny" as const, "allow" as const),
  })
  .map((rules) => policyRulesSchema.parse(rules));
