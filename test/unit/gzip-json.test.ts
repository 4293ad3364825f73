import fc from "fast-check";
import { gunzipSync } from "node:zlib";
import { gzipJson } from "../../src/ingest/raw-capture";

/** The masked copy is serialised piecewise into gzip (src/ingest/raw-capture.ts): its bytes must be JSON.stringify's. */
test("when any JSON value is written piecewise into gzip, then the gunzipped bytes are JSON.stringify's, and the size is theirs", async () => {
  await fc.assert(
    fc.asyncProperty(fc.jsonValue({ maxDepth: 8 }), async (value) => {
      const { gzipped, byteSize } = await gzipJson(value);
      const expected = Buffer.from(JSON.stringify(value), "utf8");
      expect(gunzipSync(gzipped).equals(expected)).toBe(true);
      expect(byteSize).toBe(expected.length);
    }),
    { numRuns: 300 },
  );
});

test("when values JSON.stringify leaves out or turns to null are inside, then so does the piecewise writer", async () => {
  const value = { a: undefined, b: [undefined, () => 1, 2], c: { toJSON: () => "x" }, d: new Date(0), ["__proto__"]: 1, e: "é\u2028" };
  const { gzipped } = await gzipJson(value);
  expect(gunzipSync(gzipped).toString("utf8")).toBe(JSON.stringify(value));
});
