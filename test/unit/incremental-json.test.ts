import fc from "fast-check";
import { parseJsonIncrementally } from "../../src/http/incremental-json";

/** Large reports are parsed incrementally (src/http/incremental-json.ts): the values must be JSON.parse's exactly. */
test("when any JSON document is parsed in slices of any size, then the value is JSON.parse's", async () => {
  await fc.assert(
    fc.asyncProperty(fc.jsonValue(), fc.integer({ min: 1, max: 64 }), fc.boolean(), async (value, slice, pretty) => {
      const text = JSON.stringify(value, null, pretty ? 2 : undefined);
      expect(await parseJsonIncrementally(text, slice)).toEqual(JSON.parse(text));
    }),
    { numRuns: 300 },
  );
});

test("when a key is __proto__, then it is an own property, as with JSON.parse, and no prototype changes", async () => {
  const text = '{"__proto__": {"SchemaVersion": 2}, "a": [{"__proto__": 1}]}';
  const value = (await parseJsonIncrementally(text, 3)) as Record<string, unknown>;
  expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
  expect(Object.keys(value)).toEqual(["__proto__", "a"]);
  expect((value as { SchemaVersion?: unknown }).SchemaVersion).toBeUndefined();
  expect(value).toEqual(JSON.parse(text));
});

test("when non-ASCII text and surrogate pairs fall on slice boundaries, then they are kept whole", async () => {
  const text = JSON.stringify({ d: "curly ’quotes’ and 🐳 whales 🐳", e: ["é", "\u2028"] });
  for (let slice = 1; slice < 8; slice++) expect(await parseJsonIncrementally(text, slice)).toEqual(JSON.parse(text));
});

test.each(["{", '{"a":1,}', "[1 2]", '{"a":tru}', "1 2", '"unterminated'])("when the text %j is not JSON, then it is refused", async (text) => {
  await expect(parseJsonIncrementally(text, 2)).rejects.toThrow();
});

describe("which report bodies are parsed incrementally", () => {
  // Imported here so that the property tests above stay about the parser alone.
  const { needsIncrementalParse, INCREMENTAL_PARSE_BYTES, INCREMENTAL_PARSE_OBJECTS } = require("../../src/http/read-body") as typeof import("../../src/http/read-body");
  const tinyFindings = (n: number) => JSON.stringify({ Results: [{ Target: "t", Vulnerabilities: Array.from({ length: n }, (_, i) => ({ VulnerabilityID: `CVE-2024-${i}`, PkgName: "p", Severity: "LOW" })) }] });

  test("when a large body holds many small objects (the 1,000,000 tiny findings shape), then it is", () => {
    const body = Buffer.from(tinyFindings(200_000));
    expect(body.length).toBeGreaterThanOrEqual(INCREMENTAL_PARSE_BYTES);
    expect(needsIncrementalParse(body)).toBe(true);
  });

  test("when a large body holds few objects with long text (descriptions), then JSON.parse takes it", () => {
    const description = "x".repeat(4000);
    const body = Buffer.from(JSON.stringify({ Results: [{ Vulnerabilities: Array.from({ length: 5000 }, (_, i) => ({ VulnerabilityID: `CVE-${i}`, Description: description })) }] }));
    expect(body.length).toBeGreaterThanOrEqual(INCREMENTAL_PARSE_BYTES);
    expect(needsIncrementalParse(body)).toBe(false);
  });

  test("when a body is small, then JSON.parse takes it however dense it is", () => {
    const body = Buffer.from("{}".repeat(INCREMENTAL_PARSE_OBJECTS + 1));
    expect(body.length).toBeLessThan(INCREMENTAL_PARSE_BYTES);
    expect(needsIncrementalParse(body)).toBe(false);
  });
});
