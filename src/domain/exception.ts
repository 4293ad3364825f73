import { repositoryMatchesGlob } from "./repository-glob";

/** An exception not revoked; whether it is in force at a given instant depends on `expiresAt`. */
export interface PolicyExceptionRule {
  id: string;
  vulnerabilityId: string;
  /** Repository glob (see repository-glob.ts); null = any repository. */
  repository: string | null;
  imageDigest: string | null;
  /** In force strictly before this instant; null = never expires. */
  expiresAt: Date | null;
}

export interface ExceptionTarget {
  imageDigest: string;
  repository: string | null;
}

function isInForce(rule: Pick<PolicyExceptionRule, "expiresAt">, now: Date): boolean {
  return rule.expiresAt === null || rule.expiresAt.getTime() > now.getTime();
}

/**
 * Whether the rule is in force at `now` and its scope covers the image; the caller compares the vulnerability ID.
 * Same predicate as the `current_findings` view: both scopes must hold when both are set, and a repository glob
 * never covers an image whose repository is unknown.
 */
export function exceptionApplies(rule: PolicyExceptionRule, image: ExceptionTarget, now: Date): boolean {
  if (!isInForce(rule, now)) return false;
  if (rule.imageDigest !== null && rule.imageDigest !== image.imageDigest) return false;
  if (rule.repository !== null && (image.repository === null || !repositoryMatchesGlob(image.repository, rule.repository)))
    return false;
  return true;
}

/** OpenVEX's justifications for `not_affected` (spec 0.2.0), the values an exception's `justification` may take. */
export const VEX_JUSTIFICATIONS = [
  "component_not_present",
  "vulnerable_code_not_present",
  "vulnerable_code_not_in_execute_path",
  "vulnerable_code_cannot_be_controlled_by_adversary",
  "inline_mitigations_already_exist",
] as const;
export type VexJustification = (typeof VEX_JUSTIFICATIONS)[number];
