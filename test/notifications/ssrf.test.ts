/**
 * Where notifications may go. The address a destination resolves to is checked when sending, and the socket
 * connects to exactly the checked address: link-local and cloud metadata addresses are refused always, loopback and
 * private ones unless NOTIFICATION_ALLOW_PRIVATE_NETWORKS=true.
 */
import type dns from "node:dns";
import { checkAddress } from "../../src/notifications/address-policy";
import { sendHttp, type Resolver } from "../../src/notifications/http-sender";
import { eventually, startReceiver, type Receiver } from "../support/receiver";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { critical, deliveries, subscribe, trivyReport, upload } from "./support";

describe("the address policy", () => {
  test.each([
    ["169.254.169.254", "cloud metadata (link-local)"],
    ["169.254.1.1", "link-local"],
    ["fd00:ec2::254", "AWS metadata over IPv6"],
    ["fd20:ce::254", "GCP metadata over IPv6"],
    ["100.100.100.200", "Alibaba metadata"],
    ["fe80::1", "IPv6 link-local"],
    ["::ffff:169.254.169.254", "IPv4-mapped metadata"],
    ["64:ff9b::a9fe:a9fe", "NAT64 metadata"],
    ["2002:a9fe:a9fe::1", "6to4 metadata"],
    ["0.0.0.0", "unspecified"],
    ["::", "unspecified IPv6"],
    ["224.0.0.1", "multicast"],
    ["255.255.255.255", "broadcast"],
  ])("when the address is %s (%s), then it is refused even with private networks allowed", (address) => {
    expect(checkAddress(address, true).allowed).toBe(false);
    expect(checkAddress(address, false).allowed).toBe(false);
  });

  test.each([
    ["127.0.0.1"],
    ["::1"],
    ["10.0.0.5"],
    ["172.16.3.4"],
    ["192.168.1.10"],
    ["fc00::5"],
    ["100.64.0.1"],
    ["::ffff:10.1.2.3"],
  ])("when the address is %s (loopback or private), then it is allowed only with private networks allowed", (address) => {
    expect(checkAddress(address, false)).toMatchObject({ allowed: false, reason: expect.stringContaining("NOTIFICATION_ALLOW_PRIVATE_NETWORKS=true") });
    expect(checkAddress(address, true)).toEqual({ allowed: true });
  });

  test.each([["93.184.215.14"], ["2606:4700:4700::1111"], ["8.8.8.8"]])("when the address is public (%s), then it is allowed", (address) => {
    expect(checkAddress(address, false)).toEqual({ allowed: true });
  });
});

describe("sending", () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterAll(async () => receiver.close());

  const fakeDns =
    (answers: Record<string, string[]>): Resolver =>
    (hostname: string, _options: dns.LookupAllOptions, callback) => {
      const list = answers[hostname];
      if (!list) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), []);
      callback(null, list.map((address) => ({ address, family: address.includes(":") ? 6 : 4 })));
    };
  const post = (url: string, allowPrivateNetworks: boolean, resolve?: Resolver) =>
    sendHttp({ url, headers: { "Content-Type": "application/json" }, body: "{}" }, { timeoutMs: 2000, maxResponseBytes: 1024, allowPrivateNetworks, ...(resolve ? { resolve } : {}) });

  test("when a name resolves to the metadata address, then nothing is sent, even with private networks allowed", async () => {
    const result = await post("http://metadata.test/latest/meta-data/", true, fakeDns({ "metadata.test": ["169.254.169.254"] }));
    expect(result).toMatchObject({ ok: false, status: null });
    expect(!result.ok && result.error).toContain("169.254.169.254 is a linkLocal address (always refused)");
  });

  test("when a name resolves to a refused and an allowed address, then the connection goes to the allowed one it checked", async () => {
    // receiver.test exists only in this resolver: reaching the receiver proves the socket used the checked answer.
    const before = receiver.requests.length;
    const result = await post(`http://receiver.test:${receiver.port}/checked`, true, fakeDns({ "receiver.test": ["169.254.169.254", "127.0.0.1"] }));
    expect(result).toMatchObject({ ok: true, status: 200 });
    expect(receiver.requests.slice(before).map((r) => [r.path, r.headers.host])).toEqual([["/checked", `receiver.test:${receiver.port}`]]);
  });

  test("when localhost is the destination and private networks are not allowed, then it is refused at send time", async () => {
    const result = await post(`http://localhost:${receiver.port}/`, false);
    expect(!result.ok && result.error).toMatch(/^address refused: localhost resolves only to refused addresses: .*loopback address \(allowed only with NOTIFICATION_ALLOW_PRIVATE_NETWORKS=true\)/);
  });

  test("when a literal address is refused, then no connection is made", async () => {
    const before = receiver.requests.length;
    const result = await post(`http://127.0.0.1:${receiver.port}/`, false);
    expect(!result.ok && result.error).toContain("127.0.0.1 is a loopback address");
    expect(receiver.requests.length).toBe(before);
  });
});

describe("a stored destination whose address turns out refused", () => {
  let app: TestApp;
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
    app = await startTestApp(); // NOTIFICATION_ALLOW_PRIVATE_NETWORKS unset: false
  });
  afterAll(async () => {
    await app?.close();
    await receiver?.close();
  });

  test("when private networks are not allowed, then a loopback literal is refused at creation (422)", async () => {
    const res = await app.http.post("/v1/notifications/destinations").set({ Authorization: `Bearer ${app.adminToken}` }).send({ name: "loop", type: "webhook", url: `${receiver.url}/x` });
    expect(res.status).toBe(422);
    expect(res.body.errors[0]).toMatchObject({ path: "body.url", message: expect.stringContaining("loopback") });
  });

  test("when a name resolves to loopback at send time, then the attempt is refused and recorded, and nothing reaches the receiver", async () => {
    const digest = fakeDigest("ssrf-localhost");
    await upload(app, digest, trivyReport());
    const { destination } = await subscribe(app, { url: `http://localhost:${receiver.port}/internal` });
    await upload(app, digest, trivyReport({ vulnerabilities: critical() }));
    const attempt = await eventually(async () => (await deliveries(app, { destination_id: destination.id }))[0]);
    expect(attempt).toMatchObject({ status: "retrying", response_status: null, error: expect.stringContaining("address refused: localhost resolves only to refused addresses") });
    expect(receiver.requests).toHaveLength(0);
  });
});
