import type { PolicyRules, PolicyVersion } from "../../domain/policy";
import { SEVERITIES } from "../../domain/severity";
import type { DryRunResult } from "../../policy/dry-run";
import { html, type SafeHtml } from "../html";
import { csrfField, errorList, imageLabel, reasonList, statusBadge, type ViewContext } from "./components";
import { plural, time } from "./format";

/** The rules in words, the way a reviewer reads them. */
export function rulesList(rules: PolicyRules): SafeHtml {
  const limits = SEVERITIES.filter((s) => rules.max_severity_counts[s] !== undefined).map((s) => `${s} ≤ ${rules.max_severity_counts[s]}`);
  return html`<dl class="facts rules">
  <dt>Severity limits</dt><dd>${limits.length ? limits.join(", ") : "none"}</dd>
  <dt>Unfixed findings</dt><dd>${rules.ignore_unfixed ? "ignored (only fixable findings count)" : "count"}</dd>
  <dt>Secrets</dt><dd>${rules.block_secrets ? "block the image" : "allowed"}</dd>
  <dt>Misconfigurations that block</dt><dd>${rules.block_misconfiguration_severities.length ? rules.block_misconfiguration_severities.join(", ") : "none"}</dd>
  <dt>Maximum scan age</dt><dd>${rules.max_scan_age_days === null ? "no limit" : `${rules.max_scan_age_days} days`}</dd>
  <dt>Images without a report</dt><dd>${rules.unscanned === "deny" ? "denied" : "allowed"}</dd>
</dl>`;
}

export function policyForm(ctx: ViewContext, rules: PolicyRules, errors: ReadonlyArray<{ path: string; message: string }>): SafeHtml {
  const checked = (b: boolean) => (b ? html` checked` : "");
  return html`<form method="post" action="/ui/policy" class="stack policy-form" aria-labelledby="edit-h">
  <h2 id="edit-h">Edit the policy</h2>
  ${errorList(errors)}
  ${csrfField(ctx)}
  <fieldset>
    <legend>Most findings allowed per severity</legend>
    <p class="help">An image with more findings of a severity than its limit is non-compliant. Leave blank for no limit.</p>
    <div class="severity-limits">${SEVERITIES.map(
      (s) => html`<div class="field"><label for="max-${s}">${s}</label>
        <input id="max-${s}" name="max_${s}" type="number" min="0" step="1" inputmode="numeric" value="${rules.max_severity_counts[s] ?? ""}"></div>`,
    )}</div>
  </fieldset>
  <fieldset>
    <legend>Findings</legend>
    <label class="choice"><input type="checkbox" name="ignore_unfixed"${checked(rules.ignore_unfixed)}> <span>Ignore findings without a fixed version</span></label>
    <label class="choice"><input type="checkbox" name="block_secrets"${checked(rules.block_secrets)}> <span>Block images with a secret (private key, token)</span></label>
  </fieldset>
  <fieldset>
    <legend>Misconfiguration severities that block</legend>
    <div class="inline-choices">${SEVERITIES.map(
      (s) => html`<label class="choice"><input type="checkbox" name="block_misconfiguration_severities" value="${s}"${checked(rules.block_misconfiguration_severities.includes(s))}> <span>${s}</span></label>`,
    )}</div>
  </fieldset>
  <div class="row">
    <div class="field"><label for="max-age">Maximum scan age (days)</label>
      <input id="max-age" name="max_scan_age_days" type="number" min="1" max="3650" step="1" value="${rules.max_scan_age_days ?? ""}" aria-describedby="age-help">
      <p class="help" id="age-help">Older scans make an image stale, and stale images may not run. Blank: no limit.</p></div>
    <div class="field"><label for="unscanned">Images without a report</label>
      <select id="unscanned" name="unscanned"><option value="deny"${rules.unscanned === "deny" ? html` selected` : ""}>Deny</option>
        <option value="allow"${rules.unscanned === "allow" ? html` selected` : ""}>Allow</option></select></div>
  </div>
  <div class="button-row">
    <button type="submit" name="action" value="dry-run" class="button secondary">Preview changes (dry run)</button>
    <button type="submit" name="action" value="save" class="button primary">Save as a new version</button>
  </div>
  <p class="help">Saving re-evaluates every stored image at once; the preview changes nothing.</p>
</form>`;
}

/** `images` names each changed image's repository and tags (from its stored row). */
export function dryRunResult(result: DryRunResult, images: ReadonlyMap<string, { repository: string | null; tags: readonly string[] }> = new Map()): SafeHtml {
  return html`<section class="card dry-run" id="dry-run" aria-labelledby="dry-h" tabindex="-1">
  <h2 id="dry-h">Dry run: ${result.changed.toLocaleString("en-US")} of ${plural(result.evaluated, "image")} would change</h2>
  <p class="muted small">Compared with policy version ${result.comparedWithVersion}. Nothing has been saved.</p>
  ${
    result.changes.length === 0
      ? html`<p class="empty">No image's verdict would change.</p>`
      : html`<div class="table-wrap"><table class="table dry-run-table">
    <thead><tr><th scope="col">Image</th><th scope="col">Now</th><th scope="col">Would be</th><th scope="col">Why</th></tr></thead>
    <tbody>${result.changes.slice(0, 500).map(
      (c) => html`<tr><th scope="row">${imageLabel(c.imageDigest, images.get(c.imageDigest) ?? { repository: c.repository, tags: [] })}</th>
        <td>${statusBadge(c.from.status)}</td><td>${statusBadge(c.to.status)}</td>
        <td class="small reason">${reasonList(c.to.reasons, c.to.isCompliant ? "May run: nothing in its current report breaks the edited rules." : "No reason recorded.")}</td></tr>`,
    )}</tbody></table></div>${result.changes.length > 500 || result.truncated ? html`<p class="muted small">Showing the first 500.</p>` : ""}`
  }
</section>`;
}

export function versionsTable(versions: readonly PolicyVersion[]): SafeHtml {
  return html`<div class="table-wrap"><table class="table compact">
  <thead><tr><th scope="col">Version</th><th scope="col">Set</th><th scope="col">By</th><th scope="col">Rules</th></tr></thead>
  <tbody>${versions.map(
    (v, i) => html`<tr><th scope="row">v${v.version}${i === 0 ? html` <span class="tag">in force</span>` : ""}</th><td>${time(v.createdAt)}</td><td>${v.createdBy ?? "—"}</td>
      <td><details><summary>Show rules</summary>${rulesList(v.rules)}</details></td></tr>`,
  )}</tbody></table></div>`;
}
