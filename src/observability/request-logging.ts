import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { Logger } from "pino";
import type { ServiceMetrics } from "./metrics";

const DEBUG = 20;
const INFO = 30;

/** Query parameters whose values are never logged. */
const SECRET_PARAM = /token|secret|password|passwd|api[-_]?key|signature|credential/i;

/** The request URL with the values of secret-looking query parameters replaced. */
export function loggableUrl(url: string): string {
  const q = url.indexOf("?");
  if (q < 0 || !SECRET_PARAM.test(url.slice(q))) return url;
  const params = url
    .slice(q + 1)
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      const name = eq < 0 ? pair : pair.slice(0, eq);
      return SECRET_PARAM.test(name) ? `${name}=[redacted]` : pair;
    });
  return `${url.slice(0, q)}?${params.join("&")}`;
}

/**
 * The Express route pattern that answered (`/v1/images/:digest`), never the raw URL: digests in metric labels
 * would make one time series per image. Static files under a mount answer as `<mount>/*`.
 */
function routePattern(req: Request): string {
  const route = (req as { route?: { path?: unknown } }).route;
  if (route?.path !== undefined) return `${req.baseUrl}${String(route.path)}`;
  return req.baseUrl ? `${req.baseUrl}/*` : "unmatched";
}

/**
 * One listener per request feeds both the duration histogram and the access log line (method, route, URL with
 * secrets redacted, status, duration, request id, caller's token name — never the token or any header).
 * A request whose client went away before the answer was sent is recorded with status 499.
 *
 * Successful answers of `quietRoutes` (route patterns; the HTTP layer names its admission lookups, whose answers
 * admission_decisions already records) are logged at debug level (LOG_LEVEL=debug shows them); their refusals
 * (4xx/5xx) at info like every other request.
 */
export function observeRequests(
  logger: Logger,
  metrics: Pick<ServiceMetrics, "observeRequest">,
  quietRoutes: ReadonlySet<string> = new Set(),
): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = performance.now();
    // "close" fires once per response (after "finish", or when the client goes away): `on` spares once()'s wrapper.
    res.on("close", () => {
      const seconds = (performance.now() - started) / 1000;
      const route = routePattern(req);
      const status = res.writableFinished ? res.statusCode : 499;
      metrics.observeRequest(req.method, route, status, seconds);
      const quiet = status < 400 && quietRoutes.has(route);
      if (logger.levelVal > (quiet ? DEBUG : INFO)) return; // cheaper than isLevelEnabled on the lookup path
      logger[quiet ? "debug" : "info"](
        {
          reqId: req.id,
          method: req.method,
          route,
          url: loggableUrl(req.originalUrl),
          status,
          durationMs: Math.round(seconds * 1e6) / 1e3,
          bytes: Number(res.getHeader("content-length") ?? 0) || undefined,
          caller: req.principal?.name,
          remoteAddress: req.socket.remoteAddress,
        },
        "request",
      );
    });
    next();
  };
}
