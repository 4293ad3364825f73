import fs from "node:fs";
import type { Command } from "commander";
import type { z } from "zod";
import type { deliverySchema, destinationSchema, ruleSchema, testResultSchema } from "../../http/notification-schemas";
import { callApi, clientOptions, CliError, output, table, withConnectionOptions } from "../client";

/** The API's answers, typed from its response schemas so the two cannot drift. */
type Destination = z.infer<typeof destinationSchema>;
type Rule = z.infer<typeof ruleSchema>;
type Delivery = z.infer<typeof deliverySchema>;
type TestResult = z.infer<typeof testResultSchema>;

type ConnectionFlags = { url?: string; token?: string; json?: boolean };

const list = (value: string): string[] => value.split(",").map((s) => s.trim()).filter((s) => s !== "");

/** The secret from an environment variable or a file, never from the command line (shell history, ps). */
function readSecret(opts: { secretEnv?: string; secretFile?: string }): string | undefined {
  if (opts.secretEnv && opts.secretFile) throw new CliError("give --secret-env or --secret-file, not both");
  if (opts.secretEnv) {
    const value = process.env[opts.secretEnv];
    if (!value) throw new CliError(`--secret-env: the environment variable ${opts.secretEnv} is not set`);
    return value.trim();
  }
  if (opts.secretFile) {
    try {
      return fs.readFileSync(opts.secretFile, "utf8").trim();
    } catch (error) {
      throw new CliError(`--secret-file: cannot read ${opts.secretFile}: ${(error as Error).message}`);
    }
  }
  return undefined;
}

function ruleFilters(r: Rule): string {
  const parts = [r.repository && `repository=${r.repository}`, r.cluster && `cluster=${r.cluster}`, r.namespace && `namespace=${r.namespace}`, r.min_severity && `>=${r.min_severity}`, r.open_incident && "opens incidents"];
  return parts.filter(Boolean).join(" ") || "-";
}

/** `scan-registry notifications destinations|rules|deliveries …`: where notifications go, which, and how it went. */
export function register(program: Command): void {
  const notifications = program.command("notifications").description("notification destinations (admin), rules (policy:write) and delivery attempts");

  const destinations = notifications.command("destinations").description("webhook, Slack and CloudEvents destinations (needs an admin token)");
  withConnectionOptions(destinations.command("list").description("list destinations (never their secrets)").option("--json", "print the API answer as JSON")).action(
    async (opts: ConnectionFlags) => {
      const { body } = await callApi<{ items: Destination[] }>(clientOptions(opts), "GET", "/v1/notifications/destinations");
      output(opts, body, () =>
        body.items.length === 0
          ? "no destinations"
          : table([["ID", "NAME", "TYPE", "SIGNED", "URL"], ...body.items.map((d) => [d.id, d.name, d.type, d.has_secret ? "yes" : "no", d.url])]),
      );
    },
  );
  withConnectionOptions(
    destinations
      .command("add")
      .description("add a destination")
      .requiredOption("--name <name>", "unique name, e.g. security-alerts")
      .requiredOption("--type <type>", "webhook, slack or cloudevents")
      .requiredOption("--endpoint <url>", "http(s) URL the messages are POSTed to (--url is the service's, as for every command)")
      .option("--secret-env <variable>", "environment variable holding the signing secret (webhook, cloudevents)")
      .option("--secret-file <path>", "file holding the signing secret")
      .option("--json", "print the API answer as JSON"),
  ).action(async (opts: ConnectionFlags & { name: string; type: string; endpoint: string; secretEnv?: string; secretFile?: string }) => {
    const secret = readSecret(opts);
    const { body } = await callApi<Destination>(clientOptions(opts), "POST", "/v1/notifications/destinations", { name: opts.name, type: opts.type, url: opts.endpoint, ...(secret ? { secret } : {}) });
    output(opts, body, () => `Added ${body.type} destination "${body.name}" (${body.id})${body.has_secret ? ", signed" : ""}.`);
  });
  withConnectionOptions(destinations.command("remove").description("delete a destination with its rules and undelivered notifications").argument("<id>", "destination ID").option("--json", "print the API answer as JSON")).action(
    async (id: string, opts: ConnectionFlags) => {
      const { body } = await callApi<Destination>(clientOptions(opts), "DELETE", `/v1/notifications/destinations/${encodeURIComponent(id)}`);
      output(opts, body, () => `Deleted destination "${body.name}" (${body.id}).`);
    },
  );
  withConnectionOptions(destinations.command("test").description("send a test message now; exit 2 when it is not delivered").argument("<id>", "destination ID").option("--json", "print the API answer as JSON")).action(
    async (id: string, opts: ConnectionFlags) => {
      const { body } = await callApi<TestResult>(clientOptions(opts), "POST", `/v1/notifications/destinations/${encodeURIComponent(id)}/test`);
      output(opts, body, () => (body.delivered ? `Delivered (HTTP ${body.response_status}, ${body.duration_ms} ms).` : `Not delivered: ${body.error} (${body.duration_ms} ms).`));
      if (!body.delivered) throw new CliError("test message not delivered", 2);
    },
  );
  const rules = notifications.command("rules").description("which events go to which destination (needs policy:write)");
  withConnectionOptions(rules.command("list").description("list rules").option("--json", "print the API answer as JSON")).action(async (opts: ConnectionFlags) => {
    const { body } = await callApi<{ items: Rule[] }>(clientOptions(opts), "GET", "/v1/notifications/rules");
    output(opts, body, () =>
      body.items.length === 0
        ? "no rules"
        : table([["ID", "NAME", "DESTINATION", "EVENTS", "FILTERS"], ...body.items.map((r) => [r.id, r.name, `${r.destination_name} (${r.destination_type})`, r.events.join(","), ruleFilters(r)])]),
    );
  });
  withConnectionOptions(
    rules
      .command("add")
      .description("add a rule")
      .requiredOption("--name <name>", "human name")
      .requiredOption("--destination <id>", "destination ID (notifications destinations list)")
      .requiredOption("--events <events>", "comma-separated: verdict.changed, runtime_violation.opened, runtime_violation.resolved, exception.expiring")
      .option("--repository <glob>", "repository glob (* within a segment, ** across)")
      .option("--cluster <name>", "only events in this cluster")
      .option("--namespace <name>", "only events in this namespace")
      .option("--min-severity <severity>", "CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN")
      .option("--open-incident", "also open an incident per vulnerability and cluster when a violation with a CRITICAL opens")
      .option("--json", "print the API answer as JSON"),
  ).action(async (opts: ConnectionFlags & { name: string; destination: string; events: string; repository?: string; cluster?: string; namespace?: string; minSeverity?: string; openIncident?: boolean }) => {
    const { body } = await callApi<Rule>(clientOptions(opts), "POST", "/v1/notifications/rules", {
      name: opts.name,
      destination_id: opts.destination,
      events: list(opts.events),
      ...(opts.repository ? { repository: opts.repository } : {}),
      ...(opts.cluster ? { cluster: opts.cluster } : {}),
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
      ...(opts.minSeverity ? { min_severity: opts.minSeverity.toUpperCase() } : {}),
      ...(opts.openIncident ? { open_incident: true } : {}),
    });
    output(opts, body, () => `Added rule "${body.name}" (${body.id}): ${body.events.join(", ")} → ${body.destination_name}; filters: ${ruleFilters(body)}.`);
  });
  withConnectionOptions(rules.command("remove").description("delete a rule").argument("<id>", "rule ID").option("--json", "print the API answer as JSON")).action(async (id: string, opts: ConnectionFlags) => {
    const { body } = await callApi<Rule>(clientOptions(opts), "DELETE", `/v1/notifications/rules/${encodeURIComponent(id)}`);
    output(opts, body, () => `Deleted rule "${body.name}" (${body.id}).`);
  });

  withConnectionOptions(
    notifications
      .command("deliveries")
      .description("delivery attempts, newest first (needs policy:write)")
      .option("--destination <id>", "only this destination")
      .option("--status <status>", "delivered, retrying or failed")
      .option("--event-type <type>", "only this event type (or test)")
      .option("--limit <n>", "at most this many (1-500)", "50")
      .option("--json", "print the API answer as JSON"),
  ).action(async (opts: ConnectionFlags & { destination?: string; status?: string; eventType?: string; limit: string }) => {
    const query = new URLSearchParams({ limit: opts.limit });
    if (opts.destination) query.set("destination_id", opts.destination);
    if (opts.status) query.set("status", opts.status);
    if (opts.eventType) query.set("event_type", opts.eventType);
    const { body } = await callApi<{ items: Delivery[]; next_cursor: string | null }>(clientOptions(opts), "GET", `/v1/notifications/deliveries?${query}`);
    output(opts, body, () =>
      body.items.length === 0
        ? "no delivery attempts"
        : table([
            ["AT", "EVENT", "DESTINATION", "ATTEMPT", "STATUS", "HTTP", "ERROR"],
            ...body.items.map((d) => [d.at, d.event_type, d.destination_id, String(d.attempt), d.status, d.response_status === null ? "-" : String(d.response_status), d.error ?? ""]),
          ]),
    );
  });
}
