import type { ExceptionRow } from "../../policy/exception-service";
import { href, html, type SafeHtml } from "../html";
import { csrfField, imageLabel, type ViewContext } from "./components";
import { time } from "./format";

const STATE_LABEL = { active: "Active", expired: "Expired", revoked: "Withdrawn" } as const;

function exceptionStateBadge(state: ExceptionRow["state"]): SafeHtml {
  return html`<span class="badge badge-exc-${state}">${STATE_LABEL[state]}</span>`;
}

type ImageNames = ReadonlyMap<string, { repository: string | null; tags: readonly string[] }>;

/**
 * Where an exception applies, linked: an image by `repository:tag` (its page), a plain repository name to the
 * images of that repository, a glob as written (it can match many repositories).
 */
function scope(e: ExceptionRow, images: ImageNames): SafeHtml {
  const parts: SafeHtml[] = [];
  if (e.image_digest) parts.push(html`image ${imageLabel(e.image_digest, images.get(e.image_digest))}`);
  if (e.repository)
    parts.push(
      e.repository.includes("*")
        ? html`repositories <code>${e.repository}</code>`
        : html`repository <a href="${href("/ui/images", { repository: e.repository })}"><code>${e.repository}</code></a>`,
    );
  return parts.length ? html`${parts.map((p, i) => html`${i ? " and " : ""}${p}`)}` : html`everywhere`;
}

/** Exceptions with their scope (`images` names the image-scoped ones' repository and tags), reason, author and expiry; withdraw buttons only for people who may change them. */
export function exceptionsTable(ctx: ViewContext, rows: readonly ExceptionRow[], o: { showVulnerability: boolean; returnTo: string; images?: ImageNames }): SafeHtml {
  if (rows.length === 0) return html`<p class="empty">No exceptions.</p>`;
  return html`<div class="table-wrap"><table class="table exceptions-table">
  <thead><tr>
    ${o.showVulnerability ? html`<th scope="col">Vulnerability</th>` : ""}<th scope="col">State</th><th scope="col">Applies to</th>
    <th scope="col">Reason</th><th scope="col">Granted</th><th scope="col">Expires</th>${ctx.canWrite ? html`<th scope="col"><span class="sr-only">Actions</span></th>` : ""}
  </tr></thead>
  <tbody>${rows.map(
    (e) => html`<tr>
    ${o.showVulnerability ? html`<th scope="row"><a href="/ui/vulnerabilities/${encodeURIComponent(e.vulnerability_id)}">${e.vulnerability_id}</a></th>` : ""}
    <td>${exceptionStateBadge(e.state)}</td>
    <td>${scope(e, o.images ?? new Map())}</td>
    <td class="reason">${e.reason}${e.justification ? html`<div class="small muted">OpenVEX: ${e.justification.replaceAll("_", " ")}</div>` : ""}</td>
    <td>${time(e.created_at)}<div class="small muted">by ${e.created_by}${e.requested_by ? html`, asked by ${e.requested_by}` : ""}</div></td>
    <td>${e.state === "revoked" ? html`<span class="small">withdrawn ${time(e.revoked_at)}${e.revoked_by ? html` by ${e.revoked_by}` : ""}</span>` : time(e.expires_at, "never")}</td>
    ${
      ctx.canWrite
        ? html`<td>${
            e.state === "active"
              ? html`<form method="post" action="/ui/exceptions/${e.id}/withdraw">${csrfField(ctx)}<input type="hidden" name="return_to" value="${o.returnTo}">
                  <button type="submit" class="button small danger">Withdraw<span class="sr-only"> exception for ${e.vulnerability_id}</span></button></form>`
              : ""
          }</td>`
        : ""
    }
  </tr>`,
  )}</tbody></table></div>`;
}
