import { createTestDatabase, type TestDatabase } from "../support/test-database";

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => database.drop());

describe("statement time limits", () => {
  test("when a lookup's statement runs past 2 s, then it is cancelled; writes may run longer", async () => {
    await expect(database.db.lookupPool.query("SELECT pg_sleep(2.5)")).rejects.toThrow(/statement timeout/);
    await expect(database.db.pool.query("SELECT pg_sleep(2.5)")).resolves.toBeDefined();
  });
});
