import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { gzipSync } from "node:zlib";
import { Client } from "pg";
import { from as copyFrom } from "pg-copy-streams";
import type { BenchPostgres } from "../lib/postgres";
import { startService } from "../lib/processes";
import type { ScenarioResult } from "../lib/result";
import { BENCH_ADMIN_TOKEN } from "../lib/service-client";
import { median, round } from "../lib/stats";

/** Size knob (for a quick check: BENCH_INVENTORY_PODS=2000). */
const PODS = Number(process.env.BENCH_INVENTORY_PODS ?? 20_000);
const IMAGES = 2_000;
const TARGET_SECONDS = 10;

const hex = (n: number, salt: string) => {
  let h = 0x811c9dc5 ^ n;
  let out = "";
  for (let i = 0; out.length < 64; i++) {
    h = Math.imul(h ^ (salt.charCodeAt(i % salt.length) + i), 16777619) >>> 0;
    out += h.toString(16).padStart(8, "0");
  }
  return out.slice(0, 64);
};
const digest = (i: number) => `sha256:${hex(i, "image")}`;

interface Container {
  name: string;
  image: string;
  digest: string;
}

/** One Pod as the API returns it (the fields kubectl prints that matter for size and shape, statuses included). */
function pod(name: string, namespace: string, owner: { kind: string; name: string } | null, labels: Record<string, string>, containers: Container[], init: Container[]) {
  const status = (c: Container, running: boolean) => ({
    containerID: `containerd://${hex(name.length * 7919 + c.name.length, name + c.name)}`,
    image: c.image,
    imageID: `${c.image.split(":")[0]}@${c.digest}`,
    lastState: {},
    name: c.name,
    ready: running,
    restartCount: 0,
    started: running,
    state: running ? { running: { startedAt: "2026-11-30T08:15:42Z" } } : { terminated: { exitCode: 0, reason: "Completed", startedAt: "2026-11-30T08:15:40Z", finishedAt: "2026-11-30T08:15:41Z" } },
  });
  const spec = (c: Container) => ({
    image: c.image,
    imagePullPolicy: "IfNotPresent",
    name: c.name,
    resources: { limits: { memory: "256Mi" }, requests: { cpu: "100m", memory: "128Mi" } },
    terminationMessagePath: "/dev/termination-log",
    terminationMessagePolicy: "File",
    volumeMounts: [{ mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", name: "kube-api-access-x7h2k", readOnly: true }],
  });
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      creationTimestamp: "2026-11-30T08:15:40Z",
      labels,
      name,
      namespace,
      ...(owner ? { ownerReferences: [{ apiVersion: "apps/v1", blockOwnerDeletion: true, controller: true, kind: owner.kind, name: owner.name, uid: `${hex(name.length, owner.name).slice(0, 8)}-0000-4000-8000-000000000000` }] } : {}),
      resourceVersion: String(100000 + name.length),
      uid: `${hex(name.length, name).slice(0, 8)}-1111-4000-8000-000000000000`,
    },
    spec: {
      containers: containers.map(spec),
      ...(init.length ? { initContainers: init.map(spec) } : {}),
      dnsPolicy: "ClusterFirst",
      nodeName: `node-${name.length % 50}`,
      restartPolicy: "Always",
      schedulerName: "default-scheduler",
      serviceAccountName: "default",
    },
    status: {
      conditions: [{ lastTransitionTime: "2026-11-30T08:15:42Z", status: "True", type: "Ready" }],
      containerStatuses: containers.map((c) => status(c, true)),
      ...(init.length ? { initContainerStatuses: init.map((c) => status(c, false)) } : {}),
      hostIP: "10.0.0.10",
      phase: "Running",
      podIP: "10.244.1.10",
      qosClass: "Burstable",
      startTime: "2026-11-30T08:15:40Z",
    },
  };
}

/**
 * A cluster of `PODS` Pods: 75 % Deployment replicas (5 each), 20 % DaemonSet Pods (20 nodes each), the rest
 * StatefulSet replicas (3 each) — a third with a sidecar, a tenth with an init container, over 2,000 images.
 */
function podList(): { body: unknown; workloads: number } {
  const items: unknown[] = [];
  let image = 0;
  const nextImage = (repo: string): Container => {
    const i = image++ % IMAGES;
    return { name: "", image: `registry.example.com/${repo}/app-${i}:1.${i}`, digest: digest(i) };
  };
  let w = 0;
  let workloads = 0;
  while (items.length < PODS) {
    const ns = `team-${w % 200}`;
    const kind = w % 20 < 15 ? "Deployment" : w % 20 < 19 ? "DaemonSet" : "StatefulSet";
    const replicas = kind === "Deployment" ? 5 : kind === "DaemonSet" ? 20 : 3;
    const name = `svc-${w}`;
    const main = { ...nextImage(ns), name: "main" };
    const containers = w % 3 === 0 ? [main, { ...nextImage("sidecars"), name: "proxy" }] : [main];
    const init = w % 10 === 0 ? [{ ...nextImage("init"), name: "migrate" }] : [];
    const hash = hex(w, "hash").slice(0, 10);
    const owner = kind === "Deployment" ? { kind: "ReplicaSet", name: `${name}-${hash}` } : { kind, name };
    for (let r = 0; r < replicas && items.length < PODS; r++) {
      const podName = kind === "StatefulSet" ? `${name}-${r}` : `${owner.name}-${hex(w * 100 + r, "pod").slice(0, 5)}`;
      const labels: Record<string, string> = { app: name, ...(kind === "Deployment" ? { "pod-template-hash": hash } : {}) };
      items.push(pod(podName, ns, owner, labels, containers, init));
    }
    w++;
    workloads++;
  }
  return { body: { apiVersion: "v1", kind: "List", items, metadata: { resourceVersion: "" } }, workloads };
}

/** The rows a snapshot of `cluster` stores, read back from the service's own table (for the baseline's COPY). */
async function storedRows(client: Client, cluster: string): Promise<string> {
  const { rows } = await client.query<{ line: string }>(
    `SELECT concat_ws(E'\\t', 'copy-' || cluster, now()::text, now()::text, source, namespace, kind, name, container, container_type, coalesce(image_ref, '\\N'), coalesce(repository, '\\N'),
       coalesce(image_digest, '\\N'), coalesce(pods::text, '\\N')) AS line
     FROM workload_containers WHERE cluster = $1 AND gone_at IS NULL`,
    [cluster],
  );
  return rows.map((r) => r.line).join("\n") + "\n";
}

/**
 * inventory_20k: POST /v1/inventory with a 20,000-Pod `List` (gzip, as `scan-registry inventory push` sends it), client
 * wall time until the answer (every container and violation committed). Each round snapshots a new cluster (every
 * row new); the same snapshot sent again (every row known, only last_seen_at moves) is reported beside it. Baseline:
 * a raw COPY of the same stored rows (every column the snapshot writes) into workload_containers, same table and
 * indexes, under another cluster name, in the same run.
 */
export async function runInventoryScenario(pg: BenchPostgres, settings: { rounds: number; workDir: string }): Promise<ScenarioResult> {
  const databaseUrl = await pg.database("bench_inventory");
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  const service = await startService({ DATABASE_URL: databaseUrl, ADMIN_TOKEN: BENCH_ADMIN_TOKEN }, path.join(settings.workDir, "inventory-service.log"));
  try {
    const { body, workloads } = podList();
    const json = Buffer.from(JSON.stringify(body));
    const gz = gzipSync(json);
    process.stderr.write(`  inventory: ${PODS} Pods, ${workloads} workloads, ${(json.length / 1e6).toFixed(1)} MB JSON (${(gz.length / 1e6).toFixed(1)} MB gzip)\n`);
    const post = async (cluster: string) => {
      const started = process.hrtime.bigint();
      const res = await fetch(`${service.url}/v1/inventory?cluster=${cluster}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${BENCH_ADMIN_TOKEN}`, "Content-Type": "application/json", "Content-Encoding": "gzip" },
        body: gz,
      });
      const answer = (await res.json()) as { pods?: number; containers?: number; violations_opened?: number };
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (res.status !== 200 || answer.pods !== PODS) throw new Error(`POST /v1/inventory answered ${res.status}: ${JSON.stringify(answer).slice(0, 300)}`);
      return { seconds: round(seconds, 3), answer };
    };
    const first: number[] = [];
    const again: number[] = [];
    const copy: number[] = [];
    let answer: unknown;
    for (let r = 0; r < settings.rounds; r++) {
      const cluster = `bench-${r}`;
      const a = await post(cluster);
      first.push(a.seconds);
      answer = a.answer;
      again.push((await post(cluster)).seconds);
      const text = await storedRows(client, cluster);
      const started = process.hrtime.bigint();
      await client.query("BEGIN");
      await pipeline(
        Readable.from([text]),
        client.query(copyFrom(`COPY workload_containers (cluster, first_seen_at, last_seen_at, source, namespace, kind, name, container, container_type, image_ref, repository, image_digest, pods) FROM STDIN`)),
      ).catch(async (error) => {
        await client.query("ROLLBACK");
        throw error;
      });
      await client.query("COMMIT");
      copy.push(round(Number(process.hrtime.bigint() - started) / 1e9, 3));
      process.stderr.write(`  inventory round ${r + 1}: new ${first[r]} s, again ${again[r]} s, raw COPY ${copy[r]} s\n`);
    }
    const value = median(first);
    const baselineValue = median(copy);
    return {
      name: PODS === 20_000 ? "inventory_20k" : `inventory_${PODS}`,
      value: round(value, 2),
      unit: "s",
      baseline: "a raw COPY of the same stored rows into workload_containers",
      baseline_value: round(baselineValue, 3),
      ratio: round(value / baselineValue, 1),
      target: `stored set-based in seconds, not minutes: ≤ ${TARGET_SECONDS} s for ${PODS.toLocaleString("en-US")} Pods (the ratio to the raw COPY is reported: it also pays for the HTTP body, gzip and parsing every Pod)`,
      pass: value <= TARGET_SECONDS,
      details: {
        pods: PODS,
        workloads,
        body_mb: round(json.length / 1e6, 1),
        gzip_mb: round(gz.length / 1e6, 1),
        new_cluster_rounds_s: first,
        same_snapshot_again_rounds_s: again,
        same_snapshot_again_median_s: round(median(again), 2),
        raw_copy_rounds_s: copy,
        answer,
      },
    };
  } finally {
    await client.end();
    await service.stop();
  }
}
