// Evaluates a Kyverno ValidatingPolicy's CEL (variables, validations, messageExpression) for one admission request,
// with Kyverno's http, resource and base64 libraries backed by real HTTP calls to the test service and a fake
// Kubernetes API. Runs as its own node process because @marcbachmann/cel-js is an ES module, which jest's CommonJS
// runtime here cannot load. Input on stdin (JSON), output on stdout (JSON):
//   in:  {policy, request: {operation, namespace, object}, background?, serviceBase, serviceUrl, kubernetesObjects: {"v1/secrets/ns/name": {...}}}
//   out: {decision: "allow"|"deny"|"error"|"skip", message, requests: [{method, url, headers, body}]}
// spec.matchConditions are evaluated first: one that is false skips the policy ("skip"). With background: true the
// object is an existing resource seen by a background scan: there is no admission request (`request` is null), so a
// policy that reads it fails here as it would in Kyverno's reports controller.
import { Environment } from "@marcbachmann/cel-js";

class HttpContext {
  constructor(caBundle) {
    this.caBundle = caBundle;
  }
}
class ResourceContext {}
class Base64Context {}

const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));
const requests = [];

async function send(method, url, body, headers) {
  if (!url.startsWith(input.serviceBase)) throw new Error(`unexpected URL ${url}: the policies call ${input.serviceBase}`);
  // Kyverno's http library: JSON-encodes the body, adds the given headers and nothing else, fails on non-2xx.
  const text = body === null ? null : JSON.stringify(body);
  requests.push({ method, url, headers: { ...headers }, body: text });
  const res = await fetch(input.serviceUrl + url.slice(input.serviceBase.length), {
    method,
    headers,
    body: text === null ? undefined : Buffer.from(text),
  });
  if (res.status < 200 || res.status >= 300) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  return res.json();
}

const asHeaders = (m) => Object.fromEntries(m instanceof Map ? m : Object.entries(m ?? {}));
const env = new Environment({ unlistedVariablesAreDyn: true, enableOptionalTypes: true })
  .registerType("kyverno.http.Context", HttpContext)
  .registerType("kyverno.resource.Context", ResourceContext)
  .registerType("cel.ext.Base64", Base64Context)
  .registerVariable("http", "kyverno.http.Context")
  .registerVariable("resource", "kyverno.resource.Context")
  .registerVariable("base64", "cel.ext.Base64")
  .registerFunction({ name: "Get", receiverType: "kyverno.http.Context", returnType: "dyn", params: [{ name: "url", type: "string" }], handler: (_h, url) => send("GET", url, null, {}) })
  .registerFunction({ name: "Get", receiverType: "kyverno.http.Context", returnType: "dyn", params: [{ name: "url", type: "string" }, { name: "headers", type: "map<string, string>" }], handler: (_h, url, headers) => send("GET", url, null, asHeaders(headers)) })
  .registerFunction({ name: "Post", receiverType: "kyverno.http.Context", returnType: "dyn", params: [{ name: "url", type: "string" }, { name: "body", type: "dyn" }], handler: (_h, url, body) => send("POST", url, body, {}) })
  .registerFunction({ name: "Post", receiverType: "kyverno.http.Context", returnType: "dyn", params: [{ name: "url", type: "string" }, { name: "body", type: "dyn" }, { name: "headers", type: "map<string, string>" }], handler: (_h, url, body, headers) => send("POST", url, body, asHeaders(headers)) })
  .registerFunction({ name: "Client", receiverType: "kyverno.http.Context", returnType: "kyverno.http.Context", params: [{ name: "caBundle", type: "string" }], handler: (_h, ca) => new HttpContext(ca) })
  .registerFunction({
    name: "Get",
    receiverType: "kyverno.resource.Context",
    returnType: "dyn",
    params: [{ name: "apiVersion", type: "string" }, { name: "resource", type: "string" }, { name: "namespace", type: "string" }, { name: "name", type: "string" }],
    handler: (_r, apiVersion, resource, namespace, name) => {
      const found = input.kubernetesObjects[`${apiVersion}/${resource}/${namespace}/${name}`];
      if (!found) throw new Error(`${resource} "${name}" not found`);
      return found;
    },
  })
  .registerFunction({ name: "decode", receiverType: "cel.ext.Base64", returnType: "bytes", params: [{ name: "text", type: "string" }], handler: (_b, text) => new Uint8Array(Buffer.from(text, "base64")) });

const spec = input.policy.spec;
const context = {
  http: new HttpContext(null),
  resource: new ResourceContext(),
  base64: new Base64Context(),
  object: input.request.object,
  oldObject: null,
  request: input.background ? null : { operation: input.request.operation, namespace: input.request.namespace },
  variables: {},
};

let out;
try {
  for (const condition of spec.matchConditions ?? []) {
    const matched = await env.evaluate(condition.expression, context);
    if (typeof matched !== "boolean") throw new Error(`matchCondition ${condition.name} is not a bool`);
    if (!matched) {
      out = { decision: "skip", message: `matchCondition ${condition.name} is false` };
      break;
    }
  }
  if (!out) for (const v of spec.variables ?? []) context.variables[v.name] = await env.evaluate(v.expression, context);
  if (!out) out = { decision: "allow", message: "" };
  if (out.decision === "allow") for (const validation of spec.validations) {
    const ok = await env.evaluate(validation.expression, context);
    if (typeof ok !== "boolean") throw new Error(`validation ${validation.expression} is not a bool`);
    if (!ok) {
      const message = validation.messageExpression ? await env.evaluate(validation.messageExpression, context) : validation.message;
      out = { decision: "deny", message: String(message) };
      break;
    }
  }
} catch (error) {
  // failurePolicy: Fail — any evaluation or HTTP error refuses the request.
  out = { decision: "error", message: error instanceof Error ? error.message : String(error) };
}
process.stdout.write(JSON.stringify({ ...out, requests }));
