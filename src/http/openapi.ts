import fs from "node:fs";
import path from "node:path";
import { OpenApiGeneratorV31 } from "@asteasolutions/zod-to-openapi";
import { BEARER_AUTH, OpenAPIRegistry, type RegisterOpenApi } from "./openapi-registry";
import { registerOpenApi as compliance } from "./routes/compliance";
import { registerOpenApi as decisions } from "./routes/decisions";
import { registerOpenApi as docs } from "./routes/docs";
import { registerOpenApi as exceptions } from "./routes/exceptions";
import { registerOpenApi as health } from "./routes/health";
import { registerOpenApi as images } from "./routes/images";
import { registerOpenApi as incidents } from "./routes/incidents";
import { registerOpenApi as integrations } from "./routes/integrations";
import { registerOpenApi as metrics } from "./routes/metrics";
import { registerOpenApi as notifications } from "./routes/notifications";
import { registerOpenApi as policy } from "./routes/policy";
import { registerOpenApi as reports } from "./routes/reports";
import { registerOpenApi as runtime } from "./routes/runtime";
import { registerOpenApi as tokens } from "./routes/tokens";
import { registerOpenApi as vulnerabilities } from "./routes/vulnerabilities";

/**
 * Every router's OpenAPI declarations. A router added to src/http/app.ts adds its `registerOpenApi` here;
 * test/http/openapi.test.ts fails while an Express route is missing from the document.
 */
const REGISTRARS: RegisterOpenApi[] = [
  health,
  docs,
  metrics,
  reports,
  compliance,
  images,
  vulnerabilities,
  decisions,
  policy,
  exceptions,
  tokens,
  integrations,
  runtime,
  incidents,
  notifications,
];

function packageVersion(): string {
  try {
    // src/http or dist/http: the package root is two levels up either way.
    return (JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "0.0.0";
  }
}

const DESCRIPTION = `System of record for container image scan results: upload Trivy reports (keyed by image manifest digest),
manage the compliance policy and exceptions, and ask "may this image digest run?" (built for Kyverno \`apiCall\`).

Every request carries \`Authorization: Bearer <token>\` except /healthz, /readyz, /openapi.json and /docs (and the
lookups when LOOKUP_AUTH=none, /metrics when METRICS_AUTH=none). Scopes: \`reports:write\`, \`compliance:read\`,
\`policy:write\`, \`inventory:write\`, \`admin\` (all of them); each operation names its scope in \`x-required-scope\`.
Errors are RFC 9457 \`application/problem+json\` with a stable \`code\`.`;

/** Generates the OpenAPI 3.1 document from the routers' zod schemas. */
export function buildOpenApiDocument(registrars: readonly RegisterOpenApi[] = REGISTRARS): Record<string, unknown> {
  const registry = new OpenAPIRegistry();
  registry.registerComponent("securitySchemes", BEARER_AUTH, {
    type: "http",
    scheme: "bearer",
    description: "An API token (POST /v1/tokens; the first admin token comes from ADMIN_TOKEN or the first start).",
  });
  for (const register of registrars) register(registry);
  const document = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: "3.1.0",
    info: { title: "scan-registry", version: packageVersion(), description: DESCRIPTION, license: { name: "Apache-2.0", identifier: "Apache-2.0" } },
    security: [{ [BEARER_AUTH]: [] }],
    tags: [
      { name: "Ingest", description: "Upload scan reports" },
      { name: "Admission", description: "Compliance lookups for Kyverno and CI" },
      { name: "Reading", description: "Stored images, reports, findings, vulnerabilities, decisions" },
      { name: "Policy", description: "The compliance policy and its exceptions" },
      { name: "Access", description: "API tokens" },
      { name: "Integrations", description: "Amazon ECR and Trivy Operator" },
      { name: "Runtime", description: "What runs where: inventory snapshots, running workloads, runtime violations" },
      { name: "Incidents", description: "Incidents with their timelines and the items they concern" },
      { name: "Notifications", description: "Webhook, Slack and CloudEvents notifications: destinations, rules, delivery attempts" },
      { name: "Operations", description: "Health, metrics and this document" },
    ],
  });
  return document as unknown as Record<string, unknown>;
}
