import { TokenService } from "../../src/auth/token-service";
import { createTestDatabase, type TestDatabase } from "../support/test-database";

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => database.drop());

const prefixOf = async (name: string) =>
  (await database.db.pool.query<{ token_prefix: string }>("SELECT token_prefix FROM api_tokens WHERE name = $1", [name])).rows[0]?.token_prefix;

describe("ADMIN_TOKEN stored at start", () => {
  test("when the operator chose the token, then none of its characters are stored; a generated-style token keeps its prefix", async () => {
    const tokens = new TokenService(database.db.pool);
    const chosen = "correct-horse-battery";
    expect(await tokens.ensure(chosen, "chosen", ["admin"])).toBe(true);
    expect(await prefixOf("chosen")).toBe("(admin)");
    expect(await tokens.verify(chosen)).toMatchObject({ name: "chosen" });

    const generatedStyle = "sr_0123456789abcdefghijklmnop";
    await tokens.ensure(generatedStyle, "generated-style", ["admin"]);
    expect(await prefixOf("generated-style")).toBe("sr_01234");
  });
});
