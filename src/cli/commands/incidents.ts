import fs from "node:fs";
import type { Command } from "commander";
import { callApi, clientOptions, CliError, output, table, withConnectionOptions } from "../client";

interface Incident {
  id: number;
  title: string;
  status: string;
  severity: string;
  owner: string | null;
  summary: string | null;
  root_cause: string | null;
  remediation: string | null;
  opened_at: string;
  resolved_at: string | null;
  created_by: string;
  link_count?: number;
  note_count?: number;
}

interface TimelineEntry {
  id: number;
  kind: string;
  author: string;
  created_at: string;
  body: string;
}

interface Link {
  id: number;
  type: string;
  vulnerability_id?: string;
  image_digest?: string;
  repository?: string;
  workload?: { cluster: string; namespace: string; kind: string; name: string };
  violation_id?: string;
  exception_id?: string;
  current: { known: boolean; status: string | null; is_compliant: boolean | null; images?: number | null; non_compliant_images?: number | null };
}

interface IncidentDetail extends Incident {
  timeline: TimelineEntry[];
  links: Link[];
}

type ConnectionFlags = { url?: string; token?: string; json?: boolean };

const collect = (value: string, previous: string[] = []) => [...previous, value];

function linkTarget(l: Link): string {
  if (l.workload) return `${l.workload.cluster}/${l.workload.namespace}/${l.workload.kind}/${l.workload.name}`;
  return l.vulnerability_id ?? l.image_digest ?? l.repository ?? l.violation_id ?? l.exception_id ?? "?";
}

function linkState(l: Link): string {
  if (l.type === "image") return l.current.status ?? "not_scanned";
  if (l.type === "vulnerability" || l.type === "repository") return l.current.images ? `${l.current.images} images now, ${l.current.non_compliant_images ?? 0} not compliant` : "no image has it now";
  return l.current.status ?? "";
}

function describe(i: IncidentDetail): string {
  const lines = [
    `#${i.id} ${i.title}`,
    `  ${i.severity}, ${i.status}${i.owner ? `, owner ${i.owner}` : ""}; opened ${i.opened_at} by ${i.created_by}${i.resolved_at ? `; resolved ${i.resolved_at}` : ""}`,
  ];
  for (const [label, text] of [["Summary", i.summary], ["Root cause", i.root_cause], ["Remediation", i.remediation]] as const)
    if (text) lines.push("", `${label}:`, ...text.split("\n").map((l) => `  ${l}`));
  lines.push("", `Links (${i.links.length}):`);
  for (const l of i.links) lines.push(`  ${l.type.padEnd(13)} ${linkTarget(l)}  [${linkState(l)}]`);
  lines.push("", "Timeline:");
  for (const e of i.timeline) lines.push(`  ${e.created_at}  ${e.author}  ${e.kind === "note" ? e.body.split("\n").join("\n    ") : e.body}`);
  return lines.join("\n");
}

/** `--link` values: CVE-…/GHSA-… (vulnerability), sha256:… (image), cluster/namespace/kind/name (workload), else a repository. */
function parseLink(value: string): Record<string, unknown> {
  const v = value.trim();
  const typed = /^(vulnerability|image|repository|workload|violation|exception)=(.+)$/.exec(v);
  if (typed) {
    const [, type, rest] = typed;
    if (type === "workload") return parseLink(rest!);
    const key = { vulnerability: "vulnerability_id", image: "image_digest", repository: "repository", violation: "violation_id", exception: "exception_id" }[type!]!;
    return { [key]: rest };
  }
  if (/^sha256:/.test(v)) return { image_digest: v };
  if (/^(CVE|GHSA)-/i.test(v)) return { vulnerability_id: v };
  const parts = v.split("/");
  if (parts.length === 4 && /^[A-Z][A-Za-z]+$/.test(parts[2]!)) {
    const [cluster, namespace, kind, name] = parts;
    return { workload: { cluster, namespace, kind, name } };
  }
  return { repository: v };
}

function readText(value: string): string {
  if (value === "-") return fs.readFileSync(0, "utf8");
  if (value.startsWith("@")) {
    try {
      return fs.readFileSync(value.slice(1), "utf8");
    } catch (error) {
      throw new CliError(`cannot read ${value.slice(1)}: ${(error as Error).message}`);
    }
  }
  return value;
}

/** `scan-registry incidents list|show|open|note`: incidents with their timelines and what they concern. */
export function register(program: Command): void {
  const incidents = program.command("incidents").description("list, show, open and annotate incidents");

  withConnectionOptions(
    incidents
      .command("list")
      .description("list incidents, newest first (those not resolved unless --all or --status)")
      .option("--status <status>", "open, investigating, mitigated or resolved (repeatable)", collect)
      .option("--severity <severity>", "CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN (repeatable)", collect)
      .option("--all", "every status")
      .option("--limit <n>", "at most this many (default 50, up to 500)")
      .option("--json", "print the API answer as JSON"),
  ).action(async (opts: ConnectionFlags & { status?: string[]; severity?: string[]; all?: boolean; limit?: string }) => {
    const query = new URLSearchParams();
    const statuses = opts.status ?? (opts.all ? [] : ["open", "investigating", "mitigated"]);
    for (const s of statuses) query.append("status", s);
    for (const s of opts.severity ?? []) query.append("severity", s.toUpperCase());
    query.set("limit", opts.limit ?? "50");
    const { body } = await callApi<{ items: Incident[]; next_cursor: string | null }>(clientOptions(opts), "GET", `/v1/incidents?${query}`);
    output(opts, body, () =>
      body.items.length === 0
        ? "no incidents"
        : table([
            ["ID", "SEVERITY", "STATUS", "OWNER", "OPENED", "LINKS", "NOTES", "TITLE"],
            ...body.items.map((i) => [String(i.id), i.severity, i.status, i.owner ?? "", i.opened_at, String(i.link_count ?? 0), String(i.note_count ?? 0), i.title]),
          ]) + (body.next_cursor ? `\n(more: raise --limit)` : ""),
    );
  });

  withConnectionOptions(incidents.command("show <id>").description("an incident with its links (and their verdicts now) and its timeline").option("--json", "print the API answer as JSON")).action(
    async (id: string, opts: ConnectionFlags) => {
      const { body } = await callApi<IncidentDetail>(clientOptions(opts), "GET", `/v1/incidents/${encodeURIComponent(id)}`);
      output(opts, body, () => describe(body));
    },
  );

  withConnectionOptions(
    incidents
      .command("open")
      .description("open an incident, optionally linked to what it concerns")
      .requiredOption("--title <text>", "one-line title")
      .requiredOption("--severity <severity>", "CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN")
      .option("--owner <name>", "who drives it")
      .option("--summary <markdown>", "what happened (Markdown; @file reads a file, - reads stdin)")
      .option("--link <item>", "CVE-…, sha256:…, a repository, cluster/namespace/Kind/name, or type=value (violation=42, exception=<id>); repeatable", collect)
      .option("--json", "print the API answer as JSON"),
  ).action(async (opts: ConnectionFlags & { title: string; severity: string; owner?: string; summary?: string; link?: string[] }) => {
    const body = {
      title: opts.title,
      severity: opts.severity.toUpperCase(),
      ...(opts.owner ? { owner: opts.owner } : {}),
      ...(opts.summary ? { summary: readText(opts.summary) } : {}),
      ...(opts.link?.length ? { links: opts.link.map(parseLink) } : {}),
    };
    const { body: created } = await callApi<IncidentDetail>(clientOptions(opts), "POST", "/v1/incidents", body);
    output(opts, created, () => `Opened incident\n${describe(created)}`);
  });

  withConnectionOptions(
    incidents
      .command("note <id> <markdown>")
      .description("add a Markdown note to an incident's timeline (@file reads a file, - reads stdin)")
      .option("--json", "print the API answer as JSON"),
  ).action(async (id: string, markdown: string, opts: ConnectionFlags) => {
    const { body } = await callApi<TimelineEntry>(clientOptions(opts), "POST", `/v1/incidents/${encodeURIComponent(id)}/notes`, { body: readText(markdown) });
    output(opts, body, () => `Added note ${body.id} to incident #${id} as ${body.author} at ${body.created_at}`);
  });
}
