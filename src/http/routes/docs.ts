import path from "node:path";
import express, { Router } from "express";
import { z } from "zod";
import { PUBLIC, type OpenAPIRegistry } from "../openapi-registry";

/** Swagger UI ships in swagger-ui-dist: served from node_modules, never from a CDN. */
const SWAGGER_UI_DIR = path.dirname(require.resolve("swagger-ui-dist/package.json"));
const ASSETS = new Set([
  "swagger-ui.css",
  "swagger-ui.css.map",
  "swagger-ui-bundle.js",
  "swagger-ui-bundle.js.map",
  "swagger-ui-standalone-preset.js",
  "swagger-ui-standalone-preset.js.map",
  "favicon-16x16.png",
  "favicon-32x32.png",
]);

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>scan-registry API</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js" charset="utf-8"></script>
  <script src="/docs/assets/swagger-ui-standalone-preset.js" charset="utf-8"></script>
  <script src="/docs/init.js" charset="utf-8"></script>
</body>
</html>
`;

// validatorUrl: null — Swagger UI would otherwise send the document to validator.swagger.io.
const INIT = `window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"
  });
});
`;

function send(res: express.Response, type: string, body: string): void {
  res.status(200).set("Content-Type", type).set("Content-Length", String(Buffer.byteLength(body))).set("Cache-Control", "no-cache").end(body);
}

/** GET /openapi.json and the Swagger UI at /docs; no token needed. The document is generated once, on first use. */
export function docsRouter(buildDocument: () => Record<string, unknown>): Router {
  const router = Router();
  let documentJson: string | null = null;

  router.get("/openapi.json", (_req, res) => {
    documentJson ??= JSON.stringify(buildDocument());
    send(res, "application/json; charset=utf-8", documentJson);
  });
  router.get("/docs", (_req, res) => send(res, "text/html; charset=utf-8", PAGE));
  router.get("/docs/init.js", (_req, res) => send(res, "text/javascript; charset=utf-8", INIT));
  router.use(
    "/docs/assets",
    // Only the files the page uses (the package also holds a demo page that loads the Petstore API).
    (req, _res, next) => next(ASSETS.has(req.path.slice(1)) ? undefined : "router"),
    express.static(SWAGGER_UI_DIR, { index: false, maxAge: "1d" }),
  );
  return router;
}

export const registerOpenApi = (registry: OpenAPIRegistry): void => {
  registry.registerPath({
    method: "get",
    path: "/openapi.json",
    tags: ["Operations"],
    summary: "This OpenAPI 3.1 document",
    description: "Generated from the same zod schemas that validate requests. No token needed.",
    ...PUBLIC,
    responses: { 200: { description: "The OpenAPI document", content: { "application/json": { schema: z.record(z.string(), z.unknown()) } } } },
  });
  registry.registerPath({
    method: "get",
    path: "/docs",
    tags: ["Operations"],
    summary: "Interactive API documentation (Swagger UI)",
    description: "Assets are served from the swagger-ui-dist package under /docs/assets/; nothing is loaded from a CDN. No token needed.",
    ...PUBLIC,
    responses: { 200: { description: "An HTML page", content: { "text/html": { schema: z.string() } } } },
  });
};
