import { startTestApp, type TestApp } from "../support/test-app";
import { fakeDigest } from "../support/trivy-counts";
import { ALPINE, bearer, putPolicy, uploadFixture, verdict } from "./policy-support";

/**
 * Issue 17 item 4: an exception whose repository glob backtracks (`**?` twelve times, then a letter the name lacks)
 * made every upload and re-evaluation that matched it block the event loop, exponentially in the name's length. With
 * the 64-character name below the old matcher would not have answered within jest's limit (it took 16 s for 38
 * characters, ×~4 per 4 more); the test asserts the verdicts, which must be right and prompt.
 */
const HOSTILE = "docker.io/redos/**?**?**?**?**?**?**?**?**?**?**?**?z";
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
  expect((await putPolicy(app, { max_severity_counts: { MEDIUM: 0 } })).status).toBe(200);
  for (const id of ["CVE-2019-1549", "CVE-2019-1551"]) {
    const res = await app.http.post("/v1/exceptions").set(bearer(app.adminToken)).send({ vulnerability_id: id, repository: HOSTILE, reason: "issue 17 ReDoS probe" });
    expect(res.status).toBe(201);
  }
});
afterAll(async () => app?.close());

test("when an image's repository does not match a hostile exception glob, then the upload is judged without the exception", async () => {
  const digest = await uploadFixture(app, ALPINE, { digest: fakeDigest("redos-miss"), image: `docker.io/redos/${"a".repeat(64)}:1` });
  expect(await verdict(app, digest)).toMatchObject({ is_compliant: false, status: "non_compliant" });
  const lookup = await app.http.get(`/v1/images/${digest}/compliance`).set(bearer(app.adminToken));
  expect(lookup.body).toMatchObject({ is_compliant: false });
});

test("when an image's repository matches the hostile glob, then the exceptions apply in the API and in the analysts' view alike", async () => {
  const digest = await uploadFixture(app, ALPINE, { digest: fakeDigest("redos-hit"), image: `docker.io/redos/${"a".repeat(64)}z:1` });
  expect(await verdict(app, digest)).toMatchObject({ is_compliant: true, status: "compliant" });
  const { rows } = await app.database.db.pool.query<{ excepted: boolean }>(
    "SELECT bool_and(excepted) AS excepted FROM current_findings WHERE image_digest = $1 AND kind = 'vulnerability'",
    [digest],
  );
  expect(rows[0]!.excepted).toBe(true);
});
