import { migrate, readMigrations } from "../../src/db/migrator";
import { TokenService } from "../../src/auth/token-service";
import { createLogger } from "../../src/logger";
import { createEmptyDatabase } from "../support/empty-database";
import { startTestApp } from "../support/test-app";
import { createTestDatabase, type TestDatabase } from "../support/test-database";

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => database.drop());

const prefixOf = async (name: string) =>
  (await database.db.pool.query<{ token_prefix: string }>("SELECT token_prefix FROM api_tokens WHERE name = $1", [name])).rows[0]?.token_prefix;

describe("ADMIN_TOKEN stored at start", () => {
  test("when the operator chose the token, sr_-style or not, then none of its characters are stored", async () => {
    const tokens = new TokenService(database.db.pool);
    const chosen = "correct-horse-battery";
    expect(await tokens.ensure(chosen, "chosen", ["admin"])).toEqual({ state: "created" });
    expect(await prefixOf("chosen")).toBe("(admin)");
    expect(await tokens.verify(chosen)).toMatchObject({ name: "chosen" });

    const generatedStyle = "sr_0123456789abcdefghijklmnop";
    await tokens.ensure(generatedStyle, "generated-style", ["admin"]);
    expect(await prefixOf("generated-style")).toBe("(admin)");
    expect(await tokens.ensure(generatedStyle, "generated-style", ["admin"])).toEqual({ state: "exists" });
    // A generated token still shows its first characters, to be recognised in lists.
    const created = await tokens.create({ name: "generated", scopes: ["admin"], expiresAt: null });
    expect(await prefixOf("generated")).toBe(created.token.slice(0, 8));
  });

  test("when a database holds an sr_ ADMIN_TOKEN's first characters from before, then the migration removes them", async () => {
    const all = readMigrations();
    const mine = "20261201120200_admin_token_prefix";
    const empty = await createEmptyDatabase();
    const db = empty.open();
    try {
      await migrate(db.pool, all.filter((m) => m.name < mine));
      await db.pool.query(
        "INSERT INTO api_tokens (name, token_prefix, token_hash, scopes) VALUES ('admin (ADMIN_TOKEN)', 'sr_01234', 'h1', '{admin}'), ('ci', 'sr_AbCdE', 'h2', '{reports:write}')",
      );
      await migrate(db.pool);
      const { rows } = await db.pool.query<{ name: string; token_prefix: string }>("SELECT name, token_prefix FROM api_tokens ORDER BY name");
      expect(rows).toEqual([
        { name: "admin (ADMIN_TOKEN)", token_prefix: "(admin)" },
        { name: "ci", token_prefix: "sr_AbCdE" },
      ]);
    } finally {
      await db.close();
      await empty.drop();
    }
  });
});

describe("when the ADMIN_TOKEN was revoked", () => {
  test("then the next start keeps it revoked, says so in the log naming ADMIN_TOKEN, and generates no other token", async () => {
    const db = await createTestDatabase();
    const adminToken = "sr_operator_chosen_admin_token_42";
    try {
      const first = await startTestApp({ database: db, env: { ADMIN_TOKEN: adminToken } });
      const other = await first.token("admin");
      const listed = await first.http.get("/v1/tokens").set({ Authorization: `Bearer ${other}` });
      const stored = listed.body.items.find((t: { name: string }) => t.name === "admin (ADMIN_TOKEN)");
      expect(stored.token_prefix).toBe("(admin)");
      expect((await first.http.delete(`/v1/tokens/${stored.id}`).set({ Authorization: `Bearer ${other}` })).status).toBe(200);
      await first.service.close();

      const lines: Array<Record<string, unknown>> = [];
      const logger = createLogger("info", { write: (line: string) => void lines.push(JSON.parse(line)) });
      const second = await startTestApp({ database: db, env: { ADMIN_TOKEN: adminToken }, logger });
      try {
        expect((await second.http.get("/v1/tokens").set({ Authorization: `Bearer ${adminToken}` })).status).toBe(401);
        expect((await second.http.get("/v1/tokens").set({ Authorization: `Bearer ${other}` })).status).toBe(200);
        const warning = lines.find((l) => l.variable === "ADMIN_TOKEN");
        expect(warning).toMatchObject({ level: 40, variable: "ADMIN_TOKEN" });
        expect(String(warning!.msg)).toMatch(/revoked.*stays revoked/);
        expect(JSON.stringify(lines)).not.toContain(adminToken);
        const { rows } = await db.db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM api_tokens");
        expect(rows[0]!.n).toBe(2);
      } finally {
        await second.service.close();
      }
    } finally {
      await db.drop();
    }
  });
});
