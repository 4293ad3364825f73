/**
 * Snapshots are stored set-based (the number of statements does not grow with the number of Pods) and one at a
 * time per cluster (two at once leave the state of the one stored last, never a mixture).
 */
import { Client } from "pg";
import { startTestApp, type TestApp } from "../support/test-app";
import { deploymentPods, digestOf, podList } from "../support/pods";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
  // startTestApp waits for the start-up trends snapshot, which also reads runtime_violations, before counting begins.
});
afterAll(async () => app?.close());

const post = (query: Record<string, string>, body: unknown) =>
  app.http.post("/v1/inventory").query(query).set({ Authorization: `Bearer ${app.adminToken}`, "Content-Type": "application/json" }).send(body as object);

/** A cluster of `deployments` Deployments with `replicas` Pods each, two containers per Pod, in ten namespaces. */
function cluster(deployments: number, replicas: number, seed: string) {
  const pods = [];
  for (let d = 0; d < deployments; d++)
    pods.push(
      ...deploymentPods({
        name: `svc-${d}`,
        namespace: `team-${d % 10}`,
        replicas,
        containers: [
          { name: "app", image: `registry.example.com/${seed}/svc-${d}:1`, digest: digestOf(`${seed}/${d}`) },
          { name: "sidecar", image: "envoyproxy/envoy:v1.31.0", digest: digestOf("envoy") },
        ],
      }),
    );
  return podList(pods);
}

/** Counts the statements the service sends about runtime tables (background work touches none of them). */
function countRuntimeStatements(): { stop(): number } {
  const original = Client.prototype.query;
  let n = 0;
  Client.prototype.query = function (this: Client, ...args: unknown[]) {
    const config = args[0] as unknown;
    const text = typeof config === "string" ? config : (config as { text?: string } | null)?.text ?? "";
    if (/workload_containers|inventory_snapshot|runtime_violations|running_images|COPY/.test(text) || (config && typeof config === "object" && "handleCopyData" in (config as object))) n++;
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof Client.prototype.query;
  return {
    stop() {
      Client.prototype.query = original;
      return n;
    },
  };
}

test("when a snapshot of 3,000 Pods is stored, then it takes as many statements as one of 30 Pods: set-based, not per row", async () => {
  const small = countRuntimeStatements();
  const a = await post({ cluster: "small" }, cluster(10, 3, "small")).expect(200);
  const smallCount = small.stop();
  const large = countRuntimeStatements();
  const b = await post({ cluster: "large" }, cluster(1000, 3, "large")).expect(200);
  const largeCount = large.stop();
  expect(a.body).toMatchObject({ pods: 30, containers: 20 });
  expect(b.body).toMatchObject({ pods: 3000, containers: 2000, violations_opened: 2000 });
  expect(smallCount).toBeGreaterThan(3);
  expect(largeCount).toBe(smallCount);

  // And again, with a third of it gone: still the same shape.
  const next = countRuntimeStatements();
  const c = await post({ cluster: "large" }, cluster(700, 3, "large")).expect(200);
  expect(next.stop()).toBe(smallCount);
  expect(c.body).toMatchObject({ containers: 1400, gone: 600, violations_resolved: 600 });
});

test("when two different snapshots of one cluster are posted at once, again and again, then the cluster holds exactly the one stored last", async () => {
  const A = cluster(300, 2, "a");
  const B = cluster(250, 2, "b");
  const expected = (body: ReturnType<typeof cluster>) =>
    [...new Set((body.items as any[]).flatMap((p) => p.spec.containers.map((c: any) => `${p.metadata.namespace} ${p.metadata.ownerReferences[0].name.replace(/-[^-]+$/, "")} ${c.name}`)))].sort();
  for (let round = 0; round < 5; round++) {
    const [ra, rb] = await Promise.all([post({ cluster: "race" }, A), post({ cluster: "race" }, B)]);
    expect(ra.status).toBe(200);
    expect(rb.status).toBe(200);
    const later = new Date(ra.body.snapshot_at) > new Date(rb.body.snapshot_at) ? A : B;
    const { rows } = await app.database.db.pool.query(
      "SELECT namespace || ' ' || name || ' ' || container AS k FROM workload_containers WHERE cluster = 'race' AND gone_at IS NULL",
    );
    expect(rows.map((r) => r.k).sort()).toEqual(expected(later));
    const open = await app.database.db.pool.query(
      "SELECT count(*)::int AS n FROM runtime_violations v JOIN workload_containers w ON w.id = v.workload_container_id WHERE v.cluster = 'race' AND v.resolved_at IS NULL AND w.gone_at IS NOT NULL",
    );
    expect(open.rows[0].n).toBe(0);
  }
});
