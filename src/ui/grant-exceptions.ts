import { DomainError, type FieldError } from "../domain/errors";
import type { ExceptionGrant } from "./forms";
import type { UiContext } from "./ui-context";

/**
 * Grants the exceptions through the same use case as POST /v1/exceptions, all in one transaction (all or none, the
 * affected images re-evaluated once), for the image and the vulnerability pages. A refusal by the use case (an expiry
 * already past) comes back as form errors rather than an error page; the use case names its fields (expires_at) and
 * this maps them to the form's (expires_on). The use case drops every replica's cached verdicts before returning.
 */
export async function grantAll(ui: UiContext, grants: readonly ExceptionGrant[], by: string): Promise<FieldError[] | null> {
  let created: Awaited<ReturnType<UiContext["exceptions"]["createAll"]>>;
  try {
    created = await ui.exceptions.createAll(grants.map((g) => ({ ...g, createdBy: by })));
  } catch (error) {
    if (error instanceof DomainError && error.kind === "invalid")
      return (error.errors?.length ? error.errors : [{ path: "", message: error.message }]).map((e) => ({
        path: e.path === "expires_at" ? "expires_on" : e.path,
        message: e.message,
      }));
    throw error;
  }
  for (const row of created.rows)
    ui.deps.logger.info({ exception: row.id, vulnerability: row.vulnerability_id, by, changed: created.changed, via: "dashboard" }, "exception granted");
  return null;
}
