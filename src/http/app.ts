import express, { type Express, type NextFunction, type Request, type RequestHandler, type Response, type Router } from "express";
import helmet from "helmet";
import type { AppDependencies } from "./app-dependencies";
import { requestIdOf } from "./request-id";
import { bodySizeCeiling, ingestRateLimit } from "./hardening";
import { buildOpenApiDocument } from "./openapi";
import { problem, problemHandler, sendProblem } from "./problem";
import { complianceRouter } from "./routes/compliance";
import { docsRouter } from "./routes/docs";
import { decisionsRouter } from "./routes/decisions";
import { exceptionsRouter } from "./routes/exceptions";
import { healthRouter } from "./routes/health";
import { imagesRouter } from "./routes/images";
import { incidentsRouter } from "./routes/incidents";
import { integrationsRouter } from "./routes/integrations";
import { metricsRouter } from "./routes/metrics";
import { notificationsRouter } from "./routes/notifications";
import { policyRouter } from "./routes/policy";
import { reportsRouter } from "./routes/reports";
import { runtimeRouter } from "./routes/runtime";
import { tokensRouter } from "./routes/tokens";
import { vulnerabilitiesRouter } from "./routes/vulnerabilities";
import { observeRequests } from "../observability/request-logging";
import { QUIET_ROUTES } from "./lookup-answer";

/** The per-request observer (duration metrics, access log) of the API, for Express and the lookup fast path alike. */
export function observeHttpRequests(deps: Pick<AppDependencies, "logger" | "metrics">): RequestHandler {
  return observeRequests(deps.logger, deps.metrics, QUIET_ROUTES);
}

/**
 * Builds the Express application from its dependencies; listening is the caller's business (src/server.ts).
 * `siblings` are routers of other entry points (the dashboard under /ui), mounted by the composition root after the
 * API's routers and before the 404 and error answers; the HTTP layer does not know them.
 */
/** Where the service serves HTML a browser renders (the dashboard, the API docs page): helmet's whole set applies. */
const HTML_PAGES = ["/ui", "/docs"];

export function buildApp(deps: AppDependencies, siblings: readonly Router[] = []): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("query parser", "simple");
  // TRUST_PROXY: believe X-Forwarded-Proto/-For from these hops only (req.secure, req.ip); off by default.
  app.set("trust proxy", deps.config.trustProxy);
  // JSON answers (the API's callers are Kyverno, CI and scripts, not browsers rendering a document) carry the headers
  // OWASP's REST Security Cheat Sheet names for APIs; the headers that only mean something for a document a browser
  // renders (opener and agent-cluster isolation, DNS prefetch, IE8 downloads, Flash/PDF policy files, the IE XSS
  // filter) go on the HTML pages only. Each lookup answer is ~190 bytes shorter, at the Pod admission rate.
  app.use(
    helmet({
      contentSecurityPolicy: false,
      strictTransportSecurity: false,
      crossOriginOpenerPolicy: false,
      originAgentCluster: false,
      xDnsPrefetchControl: false,
      xDownloadOptions: false,
      xPermittedCrossDomainPolicies: false,
      xXssProtection: false,
    }),
  );
  app.use(HTML_PAGES, helmet({ contentSecurityPolicy: false, strictTransportSecurity: false }));
  app.use((req: Request, res: Response, next: NextFunction) => {
    req.id = requestIdOf(req);
    res.setHeader("X-Request-Id", req.id);
    next();
  });
  app.use(observeHttpRequests(deps));
  app.use(bodySizeCeiling(deps.config.maxJsonBodyBytes));
  app.use(ingestRateLimit(deps.authenticate, deps.config.rateLimitIngestPerMinute));

  app.use(healthRouter(deps));
  app.use(docsRouter(buildOpenApiDocument));
  app.use(metricsRouter(deps));
  app.use(complianceRouter(deps));
  app.use(reportsRouter(deps));
  app.use(imagesRouter(deps));
  app.use(integrationsRouter(deps));
  app.use(tokensRouter(deps));
  app.use(policyRouter(deps));
  app.use(exceptionsRouter(deps));
  app.use(decisionsRouter(deps));
  app.use(vulnerabilitiesRouter(deps));
  app.use(runtimeRouter(deps));
  app.use(incidentsRouter(deps));
  app.use(notificationsRouter(deps));
  for (const router of siblings) app.use(router);

  app.use((req: Request, res: Response) => {
    sendProblem(res, problem(404, "not_found", `No route for ${req.method} ${req.path}.`));
  });
  app.use(problemHandler(deps.logger));
  return app;
}
