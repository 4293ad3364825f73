import crypto from "node:crypto";
import type { Request, Response, Router } from "express";
import { hasScope } from "../../auth/scopes";
import { DomainError } from "../../domain/errors";
import { loginFormSchema, safeNext } from "../forms";
import { html, type Renderable } from "../html";
import { clearCookie, LOGIN_CSRF_COOKIE, readCookie, sameToken, SESSION_COOKIE, setCookie } from "../session/middleware";
import { sendPage, type UiContext } from "../ui-context";
import { notice } from "../views/components";
import { bareLayout } from "../views/layout";

function signInPage(loginCsrf: string, next: string, message?: Renderable) {
  return bareLayout(
    "Sign in",
    html`<section class="card sign-in" aria-labelledby="sign-in-title">
  <h1 id="sign-in-title">Sign in</h1>
  <p class="muted">Use an API token with the <code>compliance:read</code> scope to look around; one with
  <code>policy:write</code> also lets you edit the policy and grant exceptions.</p>
  ${message ?? ""}
  <form method="post" action="/ui/login" class="stack">
    <input type="hidden" name="_csrf" value="${loginCsrf}">
    <input type="hidden" name="next" value="${next}">
    <div class="field">
      <label for="token">API token</label>
      <input id="token" name="token" type="password" autocomplete="current-password" spellcheck="false" required autofocus
        aria-describedby="token-help">
      <p id="token-help" class="help">Starts with <code>sr_</code>. Create one with <code>scan-registry token create</code>.</p>
    </div>
    <button type="submit" class="button primary">Sign in</button>
  </form>
</section>`,
  );
}

/** Sign-in and sign-out. The sign-in form has its own CSRF token (a cookie it must match): no login CSRF. */
export function registerSignIn(router: Router, ui: UiContext): void {
  const showForm = (req: Request, res: Response, status = 200, message?: Renderable) => {
    const loginCsrf = crypto.randomBytes(24).toString("base64url");
    setCookie(req, res, LOGIN_CSRF_COOKIE, loginCsrf, 3600);
    sendPage(res, signInPage(loginCsrf, safeNext(req.query.next ?? req.body?.next), message), status);
  };

  router.get("/ui/login", (req, res) => {
    if (req.uiSession) {
      res.redirect(303, safeNext(req.query.next));
      return;
    }
    showForm(req, res);
  });

  router.post("/ui/login", async (req, res) => {
    const expected = readCookie(req, LOGIN_CSRF_COOKIE);
    const sent = typeof req.body?._csrf === "string" ? req.body._csrf : "";
    if (!expected || !sent || !sameToken(expected, sent)) {
      showForm(req, res, 403, notice("error", "The sign-in form had expired. Please enter your token again."));
      return;
    }
    const form = loginFormSchema.safeParse(req.body ?? {});
    if (!form.success) {
      showForm(req, res, 422, notice("error", "Enter an API token."));
      return;
    }
    const principal = await ui.deps.tokens.verify(form.data.token);
    if (!principal || !principal.id) {
      ui.deps.logger.info({ ip: req.ip }, "dashboard sign-in refused: unknown, expired or revoked token");
      showForm(req, res, 401, notice("error", "That token is unknown, expired or revoked."));
      return;
    }
    if (!hasScope(principal, "compliance:read")) {
      showForm(req, res, 403, notice("error", html`The token <strong>${principal.name}</strong> lacks the <code>compliance:read</code> scope the dashboard needs.`));
      return;
    }
    const { id, session } = await ui.sessions.create(principal, req.headers["user-agent"]);
    clearCookie(req, res, LOGIN_CSRF_COOKIE);
    setCookie(req, res, SESSION_COOKIE, id, (session.expiresAt.getTime() - ui.deps.clock().getTime()) / 1000);
    ui.deps.logger.info({ token: principal.name }, "dashboard sign-in");
    res.redirect(303, safeNext(form.data.next));
  });

  // Sign-out needs the session's CSRF token when there is a session (no one can sign you out from another site).
  router.post("/ui/logout", async (req, res) => {
    const id = readCookie(req, SESSION_COOKIE);
    if (req.uiSession && id) {
      const sent = typeof req.body?._csrf === "string" ? req.body._csrf : "";
      if (!sameToken(sent, req.uiSession.csrfToken))
        throw new DomainError("forbidden", "csrf_token_invalid", "The form's security token is missing or out of date; reload the page and try again.");
      await ui.sessions.destroy(id);
    }
    clearCookie(req, res, SESSION_COOKIE);
    sendPage(
      res,
      bareLayout(
        "Signed out",
        html`<section class="card sign-in"><h1>Signed out</h1><p>Your dashboard session has ended.</p><p><a class="button primary" href="/ui/login">Sign in again</a></p></section>`,
      ),
    );
  });
}
