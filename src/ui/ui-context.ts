import type { Request, Response } from "express";
import type { AppDependencies } from "../http/app-dependencies";
import type { ExceptionService } from "../policy/exception-service";
import type { PolicyService } from "../policy/policy-service";
import type { SafeHtml } from "./html";
import { canWrite } from "./session/middleware";
import type { UiSessionStore } from "./session/session-store";
import type { ViewContext } from "./views/components";

/** What the page handlers share: the app's dependencies and the same use cases the API routes call. */
export interface UiContext {
  deps: AppDependencies;
  sessions: UiSessionStore;
  policy: PolicyService;
  /** Its writes return once every replica has dropped the verdicts they changed: the page that follows is in force. */
  exceptions: ExceptionService;
}

export function createUiContext(deps: AppDependencies, sessions: UiSessionStore): UiContext {
  return {
    deps,
    sessions,
    policy: deps.policy,
    exceptions: deps.exceptions,
  };
}

/** The signed-in person's view context; only called behind requireSignIn. */
export function viewContext(req: Request): ViewContext {
  const session = req.uiSession!;
  return { principal: session.principal, csrfToken: session.csrfToken, canWrite: canWrite(session), path: req.path };
}

export function sendPage(res: Response, page: SafeHtml, status = 200): void {
  const body = page.value;
  res
    .status(status)
    .set("Content-Type", "text/html; charset=utf-8")
    .set("Content-Length", String(Buffer.byteLength(body)))
    .end(body);
}

/** A single query-string value (the app's "simple" query parser may give arrays for repeated keys). */
export function queryValue(req: Request, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === "string" && s !== "" ? s : undefined;
}
