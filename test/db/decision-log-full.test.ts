/**
 * The decision log when it cannot keep up: full, it drops its oldest decisions (counted) and keeps taking new ones;
 * a failed write puts its batch back, and what then does not fit is dropped and counted too. Real PostgreSQL.
 */
import { Pool } from "pg";
import pino from "pino";
import { DecisionLog, type AdmissionDecisionRecord } from "../../src/lookup/decision-log";
import { createTestDatabase, type TestDatabase } from "../support/test-database";

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => database.drop());

const decision = (i: number): AdmissionDecisionRecord => ({
  decidedAt: new Date(Date.UTC(2026, 11, 4, 0, 0, 0, i)),
  imageDigest: null,
  imageRef: `registry.example.com/app:${i}`,
  namespace: "full",
  isCompliant: true,
  status: "compliant",
  reason: null,
  policyVersion: 1,
  tokenId: null,
  tokenName: null,
});

const storedRefs = async (namespace: string) =>
  (await database.db.pool.query<{ image_ref: string }>("SELECT image_ref FROM admission_decisions WHERE namespace = $1 ORDER BY decided_at", [namespace])).rows.map((r) => r.image_ref);

test("when more decisions arrive than the queue holds, then the newest are written in order and the rest counted as dropped", async () => {
  const log = new DecisionLog(database.db.pool, pino({ level: "silent" }), 60_000, 1000);
  for (let i = 0; i < 2500; i++) log.record(decision(i));
  expect([log.depth, log.dropped]).toEqual([1000, 1500]);
  await log.flush();
  const refs = await storedRefs("full");
  expect(refs).toEqual(Array.from({ length: 1000 }, (_, k) => `registry.example.com/app:${1500 + k}`));
  expect(log.depth).toBe(0);
});

test("when a write fails, then its batch waits at the front for the next flush; what no longer fits is dropped and counted", async () => {
  const down = new Pool({ connectionString: "postgresql://nobody@127.0.0.1:1/none", connectionTimeoutMillis: 500 });
  down.on("error", () => undefined);
  try {
    const failing = new DecisionLog(down, pino({ level: "silent" }), 60_000, 1000);
    const record = (i: number) => failing.record({ ...decision(i), namespace: "retry" });
    for (let i = 0; i < 800; i++) record(i);
    await failing.flush(); // refused: the 800 go back
    expect([failing.depth, failing.dropped]).toEqual([800, 0]);
    for (let i = 800; i < 1300; i++) record(i); // 300 oldest dropped to take these
    expect([failing.depth, failing.dropped]).toEqual([1000, 300]);
    // The same queue, written once the database answers: the newest 1,000 in order.
    (failing as unknown as { pool: Pool }).pool = database.db.pool;
    await failing.flush();
    expect(await storedRefs("retry")).toEqual(Array.from({ length: 1000 }, (_, k) => `registry.example.com/app:${300 + k}`));
  } finally {
    await down.end();
  }
});
