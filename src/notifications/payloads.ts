import crypto from "node:crypto";
import { CloudEvent, HTTP } from "cloudevents";
import type { DestinationWithSecret, OutboxEvent } from "../domain/notification";
import type { OutgoingRequest } from "./http-sender";

/**
 * What one HTTP request to a destination carries: a group of events of one change (one upload, one policy change,
 * one sweep). `events` are given in full for webhooks and CloudEvents; for Slack only the first few are, with
 * `total` and `counts` summarising the whole group (a policy change may flip 50,000 verdicts: one message).
 */
export interface MessageGroup {
  requestId: string;
  events: OutboxEvent[];
  total: number;
  counts: Array<{ type: string; outcome: string | null; n: number }>;
}

export interface PayloadContext {
  /** PUBLIC_URL: links in messages point to the dashboard there; none when unset. */
  publicUrl: string | undefined;
  userAgent: string;
  /** The signature's timestamp (unix seconds). */
  now: Date;
}

/** Signature header value: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the secret>. */
export function signatureHeader(secret: string, body: string, now: Date): string {
  const t = Math.floor(now.getTime() / 1000);
  const v1 = crypto.createHmac("sha256", secret).update(`${t}.${body}`).digest("hex");
  return `t=${t},v1=${v1}`;
}

export const SIGNATURE_HEADER = "X-Scan-Registry-Signature";

/** The event as webhook receivers get it. */
export function eventEnvelope(event: OutboxEvent) {
  return { id: event.id, type: event.type, occurred_at: event.occurredAt.toISOString(), severity: event.severity, subject: event.subject, data: event.data };
}

function commonHeaders(group: MessageGroup, ctx: PayloadContext, eventHeader: string): Record<string, string> {
  return {
    "User-Agent": ctx.userAgent,
    "X-Scan-Registry-Delivery": group.requestId,
    "X-Scan-Registry-Event": eventHeader,
  };
}

function signed(destination: DestinationWithSecret, headers: Record<string, string>, body: string, now: Date): Record<string, string> {
  return destination.secret ? { ...headers, [SIGNATURE_HEADER]: signatureHeader(destination.secret, body, now) } : headers;
}

/** Webhook: `{delivery_id, events: [...]}` as JSON, signed when the destination has a secret. */
export function webhookRequest(destination: DestinationWithSecret, group: MessageGroup, ctx: PayloadContext): OutgoingRequest {
  const body = JSON.stringify({ delivery_id: group.requestId, events: group.events.map(eventEnvelope) });
  const type = new Set(group.events.map((e) => e.type)).size === 1 ? group.events[0]!.type : "mixed";
  const headers = { ...commonHeaders(group, ctx, type), "Content-Type": "application/json" };
  return { url: destination.url, headers: signed(destination, headers, body, ctx.now), body };
}

export const CLOUDEVENTS_TYPE_PREFIX = "dev.scan-registry.";

/** CloudEvents 1.0, structured content mode (application/cloudevents+json): one event per request. */
export function cloudEventRequest(destination: DestinationWithSecret, group: MessageGroup, ctx: PayloadContext): OutgoingRequest {
  const event = group.events[0]!;
  const ce = new CloudEvent({
    id: event.id,
    type: `${CLOUDEVENTS_TYPE_PREFIX}${event.type}`,
    source: ctx.publicUrl ?? "/scan-registry",
    subject: event.subject,
    time: event.occurredAt.toISOString(),
    datacontenttype: "application/json",
    data: event.data,
    ...(event.severity ? { severity: event.severity.toLowerCase() } : {}),
  });
  const message = HTTP.structured(ce);
  const body = String(message.body);
  const headers = { ...commonHeaders(group, ctx, event.type), "Content-Type": String(message.headers["content-type"]) };
  return { url: destination.url, headers: signed(destination, headers, body, ctx.now), body };
}

// ---- Slack ---------------------------------------------------------------------------------------------------

/** Slack mrkdwn needs &, < and > escaped; everything else is shown as written. */
function esc(text: unknown): string {
  return String(text ?? "").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function link(ctx: PayloadContext, path: string, label: string): string {
  return ctx.publicUrl ? `<${ctx.publicUrl}${path}|${esc(label)}>` : esc(label);
}

type Data = Record<string, any>;

function imageLabel(image: Data | undefined): string {
  const digest = String(image?.digest ?? "");
  const short = digest.replace(/^sha256:/, "").slice(0, 12);
  return image?.repository ? `${image.repository}@sha256:${short}` : `sha256:${short}`;
}

const CAUSE_TEXT: Record<string, string> = {
  report: "a new scan report",
  policy: "a policy change",
  exception: "an exception change",
  expiry: "an exception expiring",
  scan_age: "the scan reaching its maximum age",
};

function statusWord(status: unknown): string {
  return String(status ?? "").replace(/_/g, "-");
}

/** One line (mrkdwn) per event: what happened, to what, and why. */
export function slackLine(event: OutboxEvent, ctx: PayloadContext): string {
  const d = event.data as Data;
  switch (event.type) {
    case "verdict.changed": {
      const now = d.after?.is_compliant ? ":white_check_mark:" : ":x:";
      const reasons = (d.after?.reasons ?? []) as Array<{ message?: string }>;
      const why = d.after?.is_compliant ? "" : reasons.slice(0, 3).map((r) => `\n>• ${esc(r.message)}`).join("");
      return `${now} *${link(ctx, `/ui/images/${d.image?.digest}`, imageLabel(d.image))}* is now *${statusWord(d.after?.status)}* (was ${statusWord(d.before?.status)}), after ${CAUSE_TEXT[d.cause] ?? esc(d.cause)}${why}`;
    }
    case "exception.expiring": {
      const e = (d.exception ?? {}) as Data;
      const scope = e.image_digest ? imageLabel({ digest: e.image_digest, repository: null }) : e.repository ? `repositories ${e.repository}` : "every image";
      return `:hourglass_flowing_sand: Exception for *${link(ctx, `/ui/vulnerabilities/${encodeURIComponent(String(e.vulnerability_id))}`, String(e.vulnerability_id))}* (${esc(scope)}) expires ${esc(e.expires_at)}; ${Number(d.affected_images ?? 0)} image(s) have it now.\n>${esc(e.reason)}`;
    }
    case "runtime_violation.opened":
    case "runtime_violation.resolved": {
      const v = (d.violation ?? d) as Data;
      const where = `${esc(v.cluster)}/${esc(v.namespace)} ${esc(v.kind)}/${esc(v.name)} (${esc(v.container)})`;
      const image = imageLabel(d.image ?? { digest: v.image_digest, repository: v.repository });
      return event.type === "runtime_violation.opened"
        ? `:rotating_light: *${where}* runs *${link(ctx, `/ui/images/${v.image_digest}`, image)}*, which is ${statusWord(d.image?.status ?? v.image_status ?? "not compliant")}`
        : `:large_green_circle: Resolved: *${where}* no longer runs a non-compliant image (${esc(image)})`;
    }
    case "test":
      return ":wave: Test message from scan-registry: this destination receives its notifications.";
    default:
      return esc(event.type);
  }
}

function summaryTitle(group: MessageGroup): string {
  const parts: string[] = [];
  for (const c of group.counts) {
    if (c.type === "verdict.changed") parts.push(`${c.n.toLocaleString("en")} image(s) became ${c.outcome === "true" ? "compliant" : "non-compliant"}`);
    else if (c.type === "exception.expiring") parts.push(`${c.n.toLocaleString("en")} exception(s) expiring`);
    else if (c.type === "runtime_violation.opened") parts.push(`${c.n.toLocaleString("en")} runtime violation(s) opened`);
    else if (c.type === "runtime_violation.resolved") parts.push(`${c.n.toLocaleString("en")} runtime violation(s) resolved`);
  }
  return parts.join(", ");
}

const SLACK_SECTION_LIMIT = 2900;

/** A Slack incoming-webhook message: one event in detail, or a summary of a change's events with the first few. */
export function slackRequest(destination: DestinationWithSecret, group: MessageGroup, ctx: PayloadContext): OutgoingRequest {
  const lines = group.events.map((e) => slackLine(e, ctx));
  const blocks: unknown[] = [];
  let text: string;
  if (group.total === 1) {
    text = lines[0] ?? "";
    blocks.push({ type: "section", text: { type: "mrkdwn", text: text.slice(0, SLACK_SECTION_LIMIT) } });
    const d = group.events[0]?.data as Data | undefined;
    const fields: string[] = [];
    if (d?.cause) fields.push(`*Cause*\n${esc(d.cause)}`);
    if (d?.policy_version !== undefined) fields.push(`*Policy version*\n${esc(d.policy_version)}`);
    if (group.events[0]?.severity) fields.push(`*Severity*\n${esc(group.events[0].severity)}`);
    if (fields.length) blocks.push({ type: "section", fields: fields.map((f) => ({ type: "mrkdwn", text: f })) });
  } else {
    const title = `*scan-registry:* ${summaryTitle(group)}`;
    text = `scan-registry: ${summaryTitle(group)}`;
    blocks.push({ type: "section", text: { type: "mrkdwn", text: title.slice(0, SLACK_SECTION_LIMIT) } });
    let chunk = "";
    for (const line of lines) {
      const first = line.split("\n")[0]!;
      if (chunk.length + first.length + 1 > SLACK_SECTION_LIMIT) break;
      chunk += `${first}\n`;
    }
    if (chunk) blocks.push({ type: "section", text: { type: "mrkdwn", text: chunk.trimEnd() } });
    const more = group.total - group.events.length;
    if (more > 0) blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: `…and ${more.toLocaleString("en")} more` }] });
  }
  if (ctx.publicUrl) blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: `<${ctx.publicUrl}/ui/|Open scan-registry>` }] });
  const body = JSON.stringify({ text: text.slice(0, 3000), blocks, unfurl_links: false });
  const headers = { ...commonHeaders(group, ctx, group.total === 1 ? group.events[0]!.type : "summary"), "Content-Type": "application/json" };
  return { url: destination.url, headers, body };
}

/** How many events one request carries at most, by destination type. */
export const GROUP_LIMIT: Record<DestinationWithSecret["type"], number> = { webhook: 100, cloudevents: 1, slack: 100_000 };

/** How many events a Slack message lists in detail. */
export const SLACK_DETAIL_LIMIT = 10;

export function buildRequest(destination: DestinationWithSecret, group: MessageGroup, ctx: PayloadContext): OutgoingRequest {
  switch (destination.type) {
    case "webhook":
      return webhookRequest(destination, group, ctx);
    case "cloudevents":
      return cloudEventRequest(destination, group, ctx);
    case "slack":
      return slackRequest(destination, group, ctx);
  }
}
