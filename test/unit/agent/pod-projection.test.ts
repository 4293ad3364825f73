import { podList, projectPod, samePod } from "../../../src/agent/pod-projection";

/** A Pod as the watch stream carries it (JSON text from the API server). */
const wirePod = () => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    name: "web-7d4b9c-abcde",
    namespace: "shop",
    uid: "0b3c",
    resourceVersion: "812",
    labels: { app: "web", "pod-template-hash": "7d4b9c" },
    annotations: { "checksum/config": "abc" },
    managedFields: [{ manager: "kubelet" }],
    ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-7d4b9c", uid: "r1", controller: true, blockOwnerDeletion: true }],
  },
  spec: {
    nodeName: "node-1",
    containers: [{ name: "app", image: "registry.example.com/shop/web:1.2", env: [{ name: "PASSWORD", value: "x" }] }],
    initContainers: [{ name: "migrate", image: "registry.example.com/shop/migrate:1" }],
  },
  status: {
    phase: "Running",
    podIP: "10.0.0.7",
    containerStatuses: [
      {
        name: "app",
        image: "registry.example.com/shop/web:1.2",
        imageID: "docker-pullable://registry.example.com/shop/web@sha256:" + "a".repeat(64),
        containerID: "docker://1",
        ready: true,
        restartCount: 3,
        lastState: { terminated: { exitCode: 137, reason: "OOMKilled", message: "long text" } },
        state: { running: { startedAt: "2025-03-01T10:00:00Z" } },
      },
    ],
    initContainerStatuses: [
      { name: "migrate", image: "registry.example.com/shop/migrate:1", imageID: "sha256:" + "b".repeat(64), state: { terminated: { exitCode: 0, reason: "Completed", message: "done", startedAt: "2025-03-01T09:59:00Z", finishedAt: "2025-03-01T09:59:30Z" } } },
    ],
  },
});

test("when a Pod is projected, then only what says which image runs where is kept, and it is still a Pod", () => {
  expect(projectPod(wirePod())).toEqual({
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "web-7d4b9c-abcde",
      namespace: "shop",
      uid: "0b3c",
      labels: { app: "web", "pod-template-hash": "7d4b9c" },
      ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-7d4b9c", uid: "r1", controller: true }],
    },
    spec: {
      nodeName: "node-1",
      containers: [{ name: "app", image: "registry.example.com/shop/web:1.2" }],
      initContainers: [{ name: "migrate", image: "registry.example.com/shop/migrate:1" }],
    },
    status: {
      phase: "Running",
      containerStatuses: [
        { name: "app", image: "registry.example.com/shop/web:1.2", imageID: "docker-pullable://registry.example.com/shop/web@sha256:" + "a".repeat(64), state: { running: { startedAt: "2025-03-01T10:00:00Z" } } },
      ],
      initContainerStatuses: [
        { name: "migrate", image: "registry.example.com/shop/migrate:1", imageID: "sha256:" + "b".repeat(64), state: { terminated: { exitCode: 0, reason: "Completed", startedAt: "2025-03-01T09:59:00Z", finishedAt: "2025-03-01T09:59:30Z" } } },
      ],
    },
  });
});

test("when the client's list hands typed objects with Date timestamps, then they project exactly like the watch's JSON", () => {
  const typed: any = wirePod();
  typed.status.containerStatuses[0].state.running.startedAt = new Date("2025-03-01T10:00:00Z");
  typed.status.initContainerStatuses[0].state.terminated.startedAt = new Date("2025-03-01T09:59:00Z");
  typed.status.initContainerStatuses[0].state.terminated.finishedAt = new Date("2025-03-01T09:59:30Z");
  typed.metadata.creationTimestamp = new Date("2025-03-01T09:58:00Z");
  expect(samePod(projectPod(typed), projectPod(wirePod()))).toBe(true);
  expect(JSON.stringify(projectPod(typed))).toBe(JSON.stringify(projectPod(wirePod())));
});

test("when only dropped fields change (readiness, restarts, IP, annotations), then the projection is the same; when an image changes, it is not", () => {
  const changed: any = wirePod();
  changed.metadata.resourceVersion = "900";
  changed.metadata.annotations = { other: "y" };
  changed.status.containerStatuses[0].ready = false;
  changed.status.containerStatuses[0].restartCount = 4;
  changed.status.podIP = "10.0.0.8";
  expect(samePod(projectPod(changed), projectPod(wirePod()))).toBe(true);
  changed.status.containerStatuses[0].imageID = "registry.example.com/shop/web@sha256:" + "c".repeat(64);
  expect(samePod(projectPod(changed), projectPod(wirePod()))).toBe(false);
});

test("when a Pod is pending (no statuses) or not a Pod, then it projects without statuses, or not at all", () => {
  const pending: any = wirePod();
  delete pending.status;
  expect(projectPod(pending)!.status).toEqual({});
  expect(projectPod({ metadata: {} })).toBeUndefined();
  expect(projectPod("nope")).toBeUndefined();
});

test("when a snapshot is built, then it is a PodList in namespace/name order with the list's resourceVersion", () => {
  const a = projectPod({ ...wirePod(), metadata: { ...wirePod().metadata, namespace: "b", name: "x" } })!;
  const b = projectPod({ ...wirePod(), metadata: { ...wirePod().metadata, namespace: "a", name: "y" } })!;
  const c = projectPod({ ...wirePod(), metadata: { ...wirePod().metadata, namespace: "a", name: "x" } })!;
  const list = podList([a, b, c], "812");
  expect(list).toMatchObject({ apiVersion: "v1", kind: "PodList", metadata: { resourceVersion: "812" } });
  expect(list.items.map((p) => `${p.metadata.namespace}/${p.metadata.name}`)).toEqual(["a/x", "a/y", "b/x"]);
});
