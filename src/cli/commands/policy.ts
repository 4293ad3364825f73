import fs from "node:fs";
import type { Command } from "commander";
import { callApi, clientOptions, CliError, output, withConnectionOptions } from "../client";

type Rules = Record<string, unknown> & { max_severity_counts?: Record<string, number> };

interface PolicyAnswer {
  version: number;
  rules: Rules;
  created_at: string;
  created_by: string | null;
  reevaluated?: number;
  changed?: number;
}

interface DryRunAnswer {
  compared_with_version: number;
  evaluated: number;
  changed: number;
  truncated: boolean;
  changes: Array<{
    image_digest: string;
    repository: string | null;
    from: { is_compliant: boolean; status: string };
    to: { is_compliant: boolean; status: string; reasons: Array<{ message: string }> };
  }>;
}

interface RuleFlags {
  maxCritical?: string;
  maxHigh?: string;
  maxMedium?: string;
  maxLow?: string;
  maxUnknown?: string;
  ignoreUnfixed?: boolean;
  blockSecrets?: boolean;
  blockMisconfigurations?: string;
  maxScanAgeDays?: string;
  unscanned?: string;
}

type ConnectionFlags = { url?: string; token?: string; json?: boolean };

const SEVERITY_FLAGS: Array<[keyof RuleFlags, string]> = [
  ["maxCritical", "CRITICAL"],
  ["maxHigh", "HIGH"],
  ["maxMedium", "MEDIUM"],
  ["maxLow", "LOW"],
  ["maxUnknown", "UNKNOWN"],
];

function count(flag: string, value: string): number | null {
  if (value === "none") return null;
  if (!/^\d+$/.test(value)) throw new CliError(`${flag} must be a whole number or "none" (got ${JSON.stringify(value)})`);
  return Number(value);
}

function readPolicyFile(file: string): Rules {
  let text: string;
  try {
    text = fs.readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${file === "-" ? "standard input" : file}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CliError(`${file === "-" ? "standard input" : file} is not JSON: ${(error as Error).message}`);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw new CliError("the policy file must hold a JSON object of rules");
  // `policy show --json` output works as input: take its rules.
  const rules = "rules" in json ? (json as { rules: unknown }).rules : json;
  return { ...(rules as Rules) };
}

/** The flags over a base policy; true when any flag was given. */
function applyFlags(base: Rules, flags: RuleFlags): boolean {
  let changed = false;
  const limits: Record<string, number> = { ...(base.max_severity_counts ?? {}) };
  for (const [key, severity] of SEVERITY_FLAGS) {
    const value = flags[key];
    if (typeof value !== "string") continue;
    const n = count(`--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, value);
    if (n === null) delete limits[severity];
    else limits[severity] = n;
    base.max_severity_counts = limits;
    changed = true;
  }
  if (flags.ignoreUnfixed !== undefined) ((base.ignore_unfixed = flags.ignoreUnfixed), (changed = true));
  if (flags.blockSecrets !== undefined) ((base.block_secrets = flags.blockSecrets), (changed = true));
  if (flags.blockMisconfigurations !== undefined) {
    const list = flags.blockMisconfigurations.trim();
    base.block_misconfiguration_severities = list === "none" || list === "" ? [] : list.split(",").map((s) => s.trim().toUpperCase());
    changed = true;
  }
  if (flags.maxScanAgeDays !== undefined) ((base.max_scan_age_days = count("--max-scan-age-days", flags.maxScanAgeDays)), (changed = true));
  if (flags.unscanned !== undefined) ((base.unscanned = flags.unscanned), (changed = true));
  return changed;
}

/** The candidate of `set` and `dry-run`: the file (if any) or the policy in force, with the flags over it. */
async function candidate(file: string | undefined, opts: RuleFlags & ConnectionFlags): Promise<Rules> {
  const base = file !== undefined ? readPolicyFile(file) : (await callApi<PolicyAnswer>(clientOptions(opts), "GET", "/v1/policy")).body.rules;
  const flagged = applyFlags(base, opts);
  if (file === undefined && !flagged) throw new CliError("nothing to set: give a policy file (or - for standard input) or rule flags such as --max-critical 0");
  return base;
}

function ruleFlags(command: Command): Command {
  return command
    .option("--max-critical <n>", "most CRITICAL vulnerabilities allowed (\"none\" = no limit)")
    .option("--max-high <n>", "most HIGH vulnerabilities allowed")
    .option("--max-medium <n>", "most MEDIUM vulnerabilities allowed")
    .option("--max-low <n>", "most LOW vulnerabilities allowed")
    .option("--max-unknown <n>", "most UNKNOWN-severity vulnerabilities allowed")
    .option("--ignore-unfixed", "findings without a fixed version do not count")
    .option("--no-ignore-unfixed", "findings without a fixed version count")
    .option("--block-secrets", "an image with a secret is refused")
    .option("--no-block-secrets", "secrets do not block")
    .option("--block-misconfigurations <severities>", "comma-separated misconfiguration severities that block, or none")
    .option("--max-scan-age-days <n>", "a scan older than this is stale (\"none\" = no limit)")
    .option("--unscanned <mode>", "allow or deny an image with no report")
    .option("--json", "print the API answer as JSON");
}

function describeRules(rules: Rules): string {
  const limits = Object.entries(rules.max_severity_counts ?? {});
  return [
    `  max_severity_counts:               ${limits.length ? limits.map(([s, n]) => `${s} ≤ ${n}`).join(", ") : "(no limits)"}`,
    `  ignore_unfixed:                    ${String(rules.ignore_unfixed)}`,
    `  block_secrets:                     ${String(rules.block_secrets)}`,
    `  block_misconfiguration_severities: ${(rules.block_misconfiguration_severities as string[] | undefined)?.join(", ") || "(none)"}`,
    `  max_scan_age_days:                 ${rules.max_scan_age_days === null ? "(no limit)" : String(rules.max_scan_age_days)}`,
    `  unscanned:                         ${String(rules.unscanned)}`,
  ].join("\n");
}

/** `scan-registry policy show|versions|set|dry-run`. */
export function register(program: Command): void {
  const policy = program.command("policy").description("show, change and try out the compliance policy");

  withConnectionOptions(policy.command("show").description("print the policy in force").option("--json", "print the API answer as JSON")).action(
    async (opts: ConnectionFlags) => {
      const { body } = await callApi<PolicyAnswer>(clientOptions(opts), "GET", "/v1/policy");
      output(opts, body, () => `Policy version ${body.version}, set by ${body.created_by ?? "?"} at ${body.created_at}\n${describeRules(body.rules)}`);
    },
  );

  withConnectionOptions(policy.command("versions").description("list every policy version, newest first").option("--json", "print the API answer as JSON")).action(
    async (opts: ConnectionFlags) => {
      const { body } = await callApi<{ items: PolicyAnswer[] }>(clientOptions(opts), "GET", "/v1/policy/versions");
      output(opts, body, () => body.items.map((v) => `version ${v.version}  ${v.created_at}  ${v.created_by ?? "?"}  ${JSON.stringify(v.rules)}`).join("\n"));
    },
  );

  withConnectionOptions(
    ruleFlags(
      policy
        .command("set [file]")
        .description("set a new policy version from a JSON file (- = standard input) and/or rule flags over the policy in force; every image is re-evaluated"),
    ),
  ).action(async (file: string | undefined, opts: RuleFlags & ConnectionFlags) => {
    const rules = await candidate(file, opts);
    const { body } = await callApi<PolicyAnswer>(clientOptions(opts), "PUT", "/v1/policy", rules);
    output(opts, body, () => `Policy version ${body.version} is in force: ${body.reevaluated} images re-evaluated, ${body.changed} changed.\n${describeRules(body.rules)}`);
  });

  withConnectionOptions(
    ruleFlags(policy.command("dry-run [file]").description("show which images a candidate policy would turn, without changing anything")),
  ).action(async (file: string | undefined, opts: RuleFlags & ConnectionFlags) => {
    const rules = await candidate(file, opts);
    const { body } = await callApi<DryRunAnswer>(clientOptions(opts), "POST", "/v1/policy/dry-run", rules);
    output(opts, body, () =>
      [
        `${body.changed} of ${body.evaluated} images would change (compared with version ${body.compared_with_version})${body.truncated ? `; the first ${body.changes.length} listed` : ""}`,
        ...body.changes.map(
          (c) =>
            `  ${c.image_digest}  ${c.repository ?? "-"}  ${c.from.status} → ${c.to.status}${c.to.reasons[0] ? `: ${c.to.reasons[0].message}` : ""}`,
        ),
      ].join("\n"),
    );
  });
}
