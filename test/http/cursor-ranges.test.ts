import { Pool } from "pg";
import { toProblem } from "../../src/http/problem";
import { readFixture } from "../support/fixtures";
import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";

/**
 * Issue 17 item 11: a cursor outside its column's range reached PostgreSQL and came back as 500 ("out of range for
 * type bigint"). Every cursor is validated to its type's range; any PostgreSQL data exception (SQLSTATE class 22)
 * that still reaches the error mapper is the client's 400, never a 500.
 */
let app: TestApp;
const digest = fakeDigest("cursor-ranges");
const auth = () => ({ Authorization: `Bearer ${app.adminToken}` });
const decisionCursor = (id: string) => Buffer.from(`d:${id}`).toString("base64url");

beforeAll(async () => {
  app = await startTestApp();
  await app.http
    .post(`/v1/reports?digest=${digest}`)
    .set({ ...auth(), "Content-Type": "application/json" })
    .send(readFixture("alpine-310.json.golden").toString())
    .expect(201);
});
afterAll(async () => app?.close());

const OUT_OF_RANGE = ["9999999999999999999", "9223372036854775808"];

test.each(OUT_OF_RANGE)("when the findings cursor is %s (past bigint), then 400 invalid_cursor problem+json, not 500", async (cursor) => {
  const res = await app.http.get(`/v1/images/${digest}/findings`).query({ cursor }).set(auth());
  expect(res.status).toBe(400);
  expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
  expect(res.body.code).toBe("invalid_cursor");
});

test("when the findings cursor is the largest bigint, then the page is simply empty", async () => {
  const res = await app.http.get(`/v1/images/${digest}/findings`).query({ cursor: "9223372036854775807" }).set(auth());
  expect(res.status).toBe(200);
  expect(res.body.items).toEqual([]);
});

test.each(OUT_OF_RANGE)("when the decisions cursor encodes id %s (past bigint), then 400 invalid_cursor, not 500", async (id) => {
  const res = await app.http.get("/v1/decisions").query({ cursor: decisionCursor(id) }).set(auth());
  expect(res.status).toBe(400);
  expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
  expect(res.body.code).toBe("invalid_cursor");
});

test("when the decisions cursor encodes the largest bigint, then it is accepted", async () => {
  const res = await app.http.get("/v1/decisions").query({ cursor: decisionCursor("9223372036854775807") }).set(auth());
  expect(res.status).toBe(200);
});

const idCursor = (list: string, id: string) => Buffer.from(`${list}:${id}`).toString("base64url");
const ID_LISTS: Array<[string, string]> = [
  ["/v1/decisions", "d"],
  ["/v1/notifications/deliveries", "n"],
  ["/v1/violations", "v"],
];

test.each(ID_LISTS)("when %s gets a cursor of its own form past bigint, then 400 invalid_cursor (checked before PostgreSQL)", async (path, list) => {
  const res = await app.http.get(path).query({ cursor: idCursor(list, "9999999999999999999") }).set(auth());
  expect(res.status).toBe(400);
  expect(res.body.code).toBe("invalid_cursor");
});

test.each(ID_LISTS)("when %s gets another list's cursor, then 400 invalid_cursor", async (path, list) => {
  const other = list === "d" ? "n" : "d";
  const res = await app.http.get(path).query({ cursor: idCursor(other, "5") }).set(auth());
  expect(res.status).toBe(400);
  expect(res.body.code).toBe("invalid_cursor");
});

test.each(ID_LISTS)("when %s gets its own cursor for the largest bigint, then 200", async (path, list) => {
  const res = await app.http.get(path).query({ cursor: idCursor(list, "9223372036854775807") }).set(auth());
  expect(res.status).toBe(200);
});

test("when the images cursor is not a digest, then 400 invalid_cursor", async () => {
  const res = await app.http.get("/v1/images").query({ cursor: "9999999999999999999" }).set(auth());
  expect(res.status).toBe(400);
  expect(res.body.code).toBe("invalid_cursor");
});

describe("when PostgreSQL raises a data exception (SQLSTATE class 22)", () => {
  let pool: Pool;
  beforeAll(() => {
    pool = new Pool({ connectionString: app.database.url, max: 1 });
  });
  afterAll(async () => pool?.end());

  test.each([
    ["numeric out of range", "SELECT '9999999999999999999'::bigint", "22003"],
    ["invalid text representation", "SELECT 'x'::int", "22P02"],
    ["invalid datetime", "SELECT '2026-13-45'::timestamptz", "22008"],
    ["division by zero", "SELECT 1/0", "22012"],
  ])("then %s maps to 400 problem+json, never 500", async (_what, sql, sqlstate) => {
    const error = await pool.query(sql).then(
      () => null,
      (e: unknown) => e,
    );
    expect((error as { code?: string }).code).toBe(sqlstate);
    const p = toProblem(error);
    expect(p.status).toBe(400);
    expect(p.code).toBe("invalid_value");
    // The mapper never leaks SQL or the database's message.
    expect(JSON.stringify(p)).not.toMatch(/bigint|SELECT|integer|timestamp/i);
  });
});
