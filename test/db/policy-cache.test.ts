import { PolicyCache } from "../../src/policy/policy-cache";
import { createTestDatabase, type TestDatabase } from "../support/test-database";

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => database.drop());

async function addPolicyVersion(): Promise<number> {
  const { rows } = await database.db.pool.query<{ version: number }>(
    "INSERT INTO policy_versions (version, rules) SELECT max(version) + 1, '{}'::jsonb FROM policy_versions RETURNING version",
  );
  return rows[0]!.version;
}

describe("the cached policy", () => {
  test("when a policy change is notified while a load is in flight, then the load's answer is not kept", async () => {
    const cache = new PolicyCache(database.db.pool);
    const inFlight = cache.get();
    cache.invalidate(); // the change arrives before the load has answered: what it read may be the replaced policy
    const loaded = await inFlight;
    const newer = await addPolicyVersion();
    expect(newer).toBe(loaded.version + 1);
    expect((await cache.get()).version).toBe(newer);
  });

  test("when nothing changes, then the policy is read once and kept", async () => {
    const cache = new PolicyCache(database.db.pool);
    const first = await cache.get(1_000);
    const unseen = await addPolicyVersion();
    expect((await cache.get(2_000)).version).toBe(first.version);
    expect(unseen).toBeGreaterThan(first.version);
  });

  test("when more than the maximum age has passed on the caller's clock, then it is read again", async () => {
    const cache = new PolicyCache(database.db.pool, 30_000);
    const first = await cache.get(1_000);
    const newer = await addPolicyVersion();
    expect((await cache.get(31_000)).version).toBe(first.version);
    expect((await cache.get(31_001)).version).toBe(newer);
  });
});
