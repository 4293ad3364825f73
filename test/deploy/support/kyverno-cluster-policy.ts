/**
 * Just enough of Kyverno's ClusterPolicy engine to run deploy/kyverno/*.yaml against the real service: match/exclude
 * on kind, operation and namespace; preconditions (evaluated before the context, as Kyverno 1.10+ loads context
 * lazily); context `apiCall` entries (Kubernetes `urlPath` answered by a fake API server,
 * `service` calls sent over HTTP exactly as Kyverno builds them); `{{ }}` variable substitution; JMESPath (the
 * community implementation, as Kyverno uses, plus Kyverno's base64_decode); `deny.conditions` with the operators the
 * policies use; `foreach` with per-element context; background scans of existing resources (`backgroundScan`, the
 * results a PolicyReport lists). Anything else in a policy makes it throw, so a policy cannot
 * silently use a feature this simulator ignores.
 */
import { isDeepStrictEqual } from "node:util";
import jmespath from "@jmespath-community/jmespath";

jmespath.registerFunction("base64_decode", ([s]) => Buffer.from(String(s), "base64").toString("utf8"), [{ types: [jmespath.TYPE_STRING] }]);
// Kyverno's regex_replace_all(regex, src, replace): Go's regexp.ReplaceAllString ($1 / ${1} expand the same way).
jmespath.registerFunction(
  "regex_replace_all",
  ([re, src, replacement]) => String(src).replace(new RegExp(String(re), "g"), String(replacement).replace(/\$\{(\d+)\}/g, "$$$1")),
  [{ types: [jmespath.TYPE_STRING] }, { types: [jmespath.TYPE_STRING, jmespath.TYPE_NUMBER] }, { types: [jmespath.TYPE_STRING, jmespath.TYPE_NUMBER] }],
);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = Record<string, any>;

export interface AdmissionRequest {
  /** Absent in a background scan. */
  operation?: "CREATE" | "UPDATE" | "DELETE";
  namespace: string;
  object: Obj;
}

export interface SentRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
}

export interface Decision {
  decision: "allow" | "deny" | "error";
  message: string;
  requests: SentRequest[];
}

/** One result of a background scan, as a PolicyReport lists it. */
export interface ScanResult {
  result: "pass" | "fail" | "error" | "skip";
  message: string;
  requests: SentRequest[];
}

export interface Environment {
  /** Answers `apiCall.urlPath` calls the way the Kubernetes API server would (404 → throw). */
  kubernetesApi(urlPath: string): Json;
  /** Where an in-cluster service URL really goes (the test app). */
  rewriteServiceUrl(url: string): string;
}

const search = (data: unknown, expression: string): Json => jmespath.search(data as any, expression) as Json;

/** Kyverno's substitution: a string that is exactly one `{{ expr }}` keeps the value's type; otherwise text. */
export function substitute(value: unknown, ctx: Obj): any {
  if (typeof value === "string") {
    const whole = /^\{\{\s*([^]*?)\s*\}\}$/.exec(value);
    if (whole && !whole[1]!.includes("{{")) return search(ctx, whole[1]!);
    return value.replace(/\{\{\s*([^]*?)\s*\}\}/g, (_m, expr: string) => {
      const v = search(ctx, expr);
      return typeof v === "string" ? v : JSON.stringify(v);
    });
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, ctx));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, ctx)]));
  return value;
}

function condition(c: Obj, ctx: Obj): boolean {
  const key = substitute(c.key, ctx);
  const value = substitute(c.value, ctx);
  switch (c.operator) {
    case "Equals":
      return isDeepStrictEqual(key, value);
    case "NotEquals":
      return !isDeepStrictEqual(key, value);
    case "GreaterThan":
    case "GreaterThanOrEquals":
    case "LessThan": {
      if (typeof key !== "number" || typeof value !== "number") throw new Error(`${c.operator} needs numbers, got ${JSON.stringify(key)} and ${JSON.stringify(value)}`);
      return c.operator === "GreaterThan" ? key > value : c.operator === "LessThan" ? key < value : key >= value;
    }
    default:
      throw new Error(`operator ${String(c.operator)} is not simulated: add it to test/deploy/support/kyverno-cluster-policy.ts`);
  }
}

/** `any`: at least one holds; `all`: every one holds; both given: both blocks must hold (Kyverno's semantics). */
function conditionsHold(block: Obj, ctx: Obj): boolean {
  const any = block.any as Obj[] | undefined;
  const all = block.all as Obj[] | undefined;
  if (!any && !all) throw new Error("deny.conditions needs any/all");
  return (!any || any.some((c) => condition(c, ctx))) && (!all || all.every((c) => condition(c, ctx)));
}

async function apiCall(call: Obj, ctx: Obj, env: Environment, sent: SentRequest[]): Promise<Json> {
  let response: Json;
  if (call.urlPath) {
    response = env.kubernetesApi(substitute(call.urlPath, ctx));
  } else if (call.service) {
    const method = String(call.method ?? "GET");
    if (method !== "GET" && method !== "POST") throw new Error(`invalid request type ${method}`);
    const url = String(substitute(call.service.url, ctx));
    const headers: Record<string, string> = {};
    for (const h of (substitute(call.service.headers ?? [], ctx) as Array<{ key: string; value: string }>)) headers[h.key] = String(h.value);
    // POST body = the data entries as one JSON object; Go's client adds no Content-Type of its own.
    const body = method === "POST" ? JSON.stringify(Object.fromEntries((substitute(call.data ?? [], ctx) as Array<{ key: string; value: unknown }>).map((d) => [d.key, d.value]))) : null;
    sent.push({ method, url, headers, body });
    const res = await fetch(env.rewriteServiceUrl(url), { method, headers, body: body === null ? undefined : Buffer.from(body) });
    const text = await res.text();
    if (res.status < 200 || res.status >= 300) throw new Error(`HTTP ${res.status}: ${text}`);
    response = JSON.parse(text) as Json;
  } else {
    throw new Error("apiCall needs urlPath or service");
  }
  return call.jmesPath ? search(response, substitute(call.jmesPath, ctx)) : response;
}

async function loadContext(entries: Obj[] | undefined, ctx: Obj, env: Environment, sent: SentRequest[]): Promise<void> {
  for (const entry of entries ?? []) {
    if (!entry.apiCall) throw new Error(`context entry ${entry.name} is not an apiCall: not simulated`);
    ctx[entry.name] = await apiCall(entry.apiCall, ctx, env, sent);
  }
}

function matches(rule: Obj, request: AdmissionRequest): boolean {
  const describes = (r: Obj) =>
    (!r.kinds || r.kinds.includes(request.object.kind ?? "Pod")) &&
    (!r.operations || (request.operation !== undefined && r.operations.includes(request.operation))) &&
    (!r.namespaces || r.namespaces.includes(request.namespace));
  const matched = (rule.match?.any as Obj[] | undefined)?.some((m) => describes(m.resources)) ?? false;
  const excluded = (rule.exclude?.any as Obj[] | undefined)?.some((m) => describes(m.resources)) ?? false;
  return matched && !excluded;
}

type RuleOutcome = { outcome: "pass" | "fail" | "error" | "skip"; message: string };

/** One rule on one resource: preconditions, context, then deny (or foreach/deny). */
async function evaluateRule(rule: Obj, request: AdmissionRequest, env: Environment, sent: SentRequest[]): Promise<RuleOutcome> {
  const validate = rule.validate as Obj;
  if (!validate.deny && !validate.foreach) throw new Error("only deny and foreach/deny validations are simulated");
  const ctx: Obj = { request: { operation: request.operation, namespace: request.namespace, object: request.object } };
  try {
    if (rule.preconditions && !conditionsHold(rule.preconditions, ctx)) return { outcome: "skip", message: "preconditions not met" };
    await loadContext(rule.context, ctx, env, sent);
    if (validate.deny && conditionsHold(validate.deny.conditions, ctx)) return { outcome: "fail", message: substitute(validate.message, ctx) };
    for (const each of (validate.foreach as Obj[] | undefined) ?? []) {
      const list = search(ctx, each.list) as Json[] | null;
      for (const [index, element] of (list ?? []).entries()) {
        const elementCtx: Obj = { ...ctx, element, elementIndex: index };
        await loadContext(each.context, elementCtx, env, sent);
        if (conditionsHold(each.deny.conditions, elementCtx)) return { outcome: "fail", message: substitute(validate.message, elementCtx) };
      }
    }
    return { outcome: "pass", message: "" };
  } catch (error) {
    return { outcome: "error", message: (error as Error).message };
  }
}

/** The decision Kyverno's admission webhook would return for this ClusterPolicy and request. */
export async function admit(policy: Obj, request: AdmissionRequest, env: Environment): Promise<Decision> {
  if (policy.kind !== "ClusterPolicy") throw new Error(`not a ClusterPolicy: ${policy.kind}`);
  const sent: SentRequest[] = [];
  // admission: false — the policy is never called by the admission webhook.
  if (policy.spec.admission === false) return { decision: "allow", message: "", requests: sent };
  for (const rule of policy.spec.rules as Obj[]) {
    if (!matches(rule, request)) continue;
    if ((rule.validate as Obj).failureAction !== "Enforce") throw new Error("only Enforce rules are simulated at admission");
    const { outcome, message } = await evaluateRule(rule, request, env, sent);
    // A rule error under Enforce blocks the request: the policies fail closed.
    if (outcome === "fail") return { decision: "deny", message, requests: sent };
    if (outcome === "error") return { decision: "error", message, requests: sent };
  }
  return { decision: "allow", message: "", requests: sent };
}

/**
 * What Kyverno's background scan (the reports controller) records for an existing resource: `fail` for a violated
 * rule (whatever its failureAction: background scans never block), `error` when the rule could not be evaluated (an
 * apiCall failed), `skip` when no rule matched or preconditions were not met, else `pass`. There is no admission
 * request: no operation, and request.namespace is the resource's own.
 */
export async function backgroundScan(policy: Obj, resource: Obj, env: Environment): Promise<ScanResult> {
  if (policy.kind !== "ClusterPolicy") throw new Error(`not a ClusterPolicy: ${policy.kind}`);
  if (policy.spec.background === false) throw new Error(`${policy.metadata.name} has background: false: background scans never evaluate it`);
  const sent: SentRequest[] = [];
  const request: AdmissionRequest = { namespace: resource.metadata?.namespace ?? "", object: resource };
  let result: ScanResult = { result: "skip", message: "no rule matched", requests: sent };
  for (const rule of policy.spec.rules as Obj[]) {
    if (!matches(rule, request)) continue;
    const { outcome, message } = await evaluateRule(rule, request, env, sent);
    if (outcome === "fail" || outcome === "error") return { result: outcome, message, requests: sent };
    if (outcome === "pass") result = { result: "pass", message: "", requests: sent };
    else if (result.result === "skip") result = { result: "skip", message, requests: sent };
  }
  return result;
}
