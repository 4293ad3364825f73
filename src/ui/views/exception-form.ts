import { VEX_JUSTIFICATIONS } from "../../domain/exception";
import { html, type Renderable, type SafeHtml } from "../html";
import { csrfField, errorList, severityBadge, type ViewContext } from "./components";

export interface GrantFormOptions {
  action: string;
  /** Fixed vulnerability ID (vulnerability page), or a list to choose from (image page). */
  vulnerabilityId?: string;
  choices?: Array<{ id: string; severity: string }>;
  preselected?: ReadonlySet<string>;
  /** Scopes offered: an image page offers this image / its repository / everywhere; a vulnerability page a glob or everywhere. */
  image?: { digest: string; repository: string | null };
  errors?: ReadonlyArray<{ path: string; message: string }>;
  /** Values to show again after a refused submission. */
  values?: Record<string, string | undefined>;
  today: Date;
}

/** The grant-exception form. Reason and expiry are required here even though the API allows an open-ended one. */
export function exceptionGrantForm(ctx: ViewContext, o: GrantFormOptions): SafeHtml {
  if (!ctx.canWrite) return html``;
  const v = o.values ?? {};
  const minDate = o.today.toISOString().slice(0, 10);
  // The narrowest scope is chosen unless the person picks a wider one: this image, or a repository glob.
  const scope = v.scope ?? (o.image ? "image" : "glob");
  const radio = (value: string, label: Renderable, hint?: Renderable) =>
    html`<label class="choice"><input type="radio" name="scope" value="${value}"${scope === value ? html` checked` : ""}> <span>${label}${hint ? html`<span class="help"> ${hint}</span>` : ""}</span></label>`;
  let ids: SafeHtml;
  if (o.vulnerabilityId) {
    ids = html`<input type="hidden" name="vulnerability_id" value="${o.vulnerabilityId}"><p>Vulnerability <strong>${o.vulnerabilityId}</strong></p>`;
  } else {
    const choices = o.choices ?? [];
    ids = html`<fieldset class="id-choices">
      <legend>Vulnerabilities to accept</legend>
      ${
        choices.length === 0
          ? html`<p class="muted">Every finding of this image is already covered by an exception.</p>`
          : html`<div class="choices-scroll">${choices.map(
              (c) => html`<label class="choice"><input type="checkbox" name="vulnerability_id" value="${c.id}" data-severity="${c.severity}"${
                o.preselected?.has(c.id) ? html` checked` : ""
              }> ${severityBadge(c.severity)} <span>${c.id}</span></label>`,
            )}</div>`
      }
      <div class="field"><label for="other-id">Other IDs <span class="help">(optional, separated by spaces)</span></label>
        <input id="other-id" name="other_vulnerability_id" value="${v.other_vulnerability_id ?? ""}" placeholder="CVE-2024-12345"></div>
    </fieldset>`;
  }
  return html`<form method="post" action="${o.action}" class="stack grant-form" id="grant" aria-labelledby="grant-h">
  <h3 id="grant-h">Grant an exception</h3>
  ${errorList(o.errors ?? [])}
  ${csrfField(ctx)}
  ${ids}
  <fieldset>
    <legend>Where it applies</legend>
    ${
      o.image
        ? html`<input type="hidden" name="image_digest" value="${o.image.digest}">
      ${radio("image", "This image only", "(this digest)")}
      ${o.image.repository ? html`<input type="hidden" name="repository" value="${o.image.repository}">${radio("repository", html`Every image of <code>${o.image.repository}</code>`)}` : ""}`
        : html`${radio("glob", "Repositories matching a glob")}
      <div class="field indent"><label for="grant-glob">Repository glob</label>
        <input id="grant-glob" name="repository" value="${v.repository ?? ""}" placeholder="ghcr.io/acme/*" aria-describedby="glob-help">
        <p class="help" id="glob-help"><code>*</code> matches within one path segment, <code>**</code> across segments.</p></div>`
    }
    ${radio("everywhere", "Everywhere", "(every image that has it)")}
  </fieldset>
  <div class="field">
    <label for="grant-reason">Reason <span class="required">(required)</span></label>
    <textarea id="grant-reason" name="reason" rows="3" required maxlength="2000" placeholder="Why is this risk accepted? Link the ticket.">${v.reason ?? ""}</textarea>
  </div>
  <div class="field">
    <label for="grant-justification">Justification <span class="help">(optional, OpenVEX; exported with the exception)</span></label>
    <select id="grant-justification" name="justification">
      <option value="">None: the reason explains it</option>
      ${VEX_JUSTIFICATIONS.map((j) => html`<option value="${j}"${v.justification === j ? html` selected` : ""}>${j.replaceAll("_", " ")}</option>`)}
    </select>
  </div>
  <div class="field">
    <label for="grant-expires">Expires on <span class="required">(required)</span></label>
    <input id="grant-expires" name="expires_on" type="date" required min="${minDate}" value="${v.expires_on ?? ""}" aria-describedby="exp-help">
    <p class="help" id="exp-help">In force through the end of that day (UTC).</p>
  </div>
  <button type="submit" class="button primary">Grant exception</button>
</form>`;
}
