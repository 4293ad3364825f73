/**
 * The masked copy of a Trivy report is the uploaded bytes with only the Results entries that held secret text
 * re-serialised (src/ingest/masked-splice.ts): it must parse to exactly the document maskSecretContext masks, whatever
 * the bytes' layout, and anything the scan cannot read plainly falls back to re-serialising the whole document.
 */
import fc from "fast-check";
import { gunzipSync } from "node:zlib";
import { maskSecretContext } from "../../src/formats/mask-secrets";
import { maskAsSplice, resultsElementRanges } from "../../src/ingest/masked-splice";
import { gzipPieces, storedCopy, captureRaw } from "../../src/ingest/raw-capture";
import { readFixture } from "../support/fixtures";

const SECRET = "ghp_R3alS3cretT0kenValue0123456789abcdefAB";

const secretResult = fc.record({
  Target: fc.string(),
  Class: fc.constant("secret"),
  Secrets: fc.array(
    fc.record({
      RuleID: fc.constant("github-pat"),
      Severity: fc.constant("CRITICAL"),
      Title: fc.string(),
      Match: fc.string().map((s) => `GITHUB_PAT=${SECRET}${s}`),
      Code: fc.record({ Lines: fc.array(fc.record({ Number: fc.nat(), Content: fc.string().map((s) => `token: ${SECRET} "]},{${s}`) }), { maxLength: 3 }) }),
    }),
    { minLength: 1, maxLength: 3 },
  ),
});
const plainResult = fc.record({
  Target: fc.string(),
  Class: fc.constantFrom("os-pkgs", "lang-pkgs"),
  Vulnerabilities: fc.array(fc.record({ VulnerabilityID: fc.string({ minLength: 1 }), Description: fc.string(), Extra: fc.jsonValue({ maxDepth: 3 }) }), { maxLength: 3 }),
});
const trivyReport = fc.record({
  SchemaVersion: fc.constant(2),
  ArtifactName: fc.string(),
  Metadata: fc.record({ RepoTags: fc.array(fc.string(), { maxLength: 2 }), Note: fc.jsonValue({ maxDepth: 3 }) }),
  Results: fc.array(fc.oneof(secretResult, plainResult), { minLength: 1, maxLength: 6 }),
});

function splicedText(bytes: Buffer): { text: string | null; masked: number } {
  const doc: unknown = JSON.parse(bytes.toString("utf8"));
  const { masked, pieces } = maskAsSplice(bytes, doc);
  return { masked, text: pieces ? Buffer.concat(pieces).toString("utf8") : null };
}

test("when a Trivy report is laid out any way JSON allows, then the spliced copy parses to the masked document and holds no secret", () => {
  fc.assert(
    fc.property(trivyReport, fc.constantFrom(undefined, 2, "\t"), fc.boolean(), (report, indent, asciiEscapes) => {
      let text = JSON.stringify(report, null, indent);
      if (asciiEscapes) text = text.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
      const bytes = Buffer.from(text, "utf8");
      const expected: unknown = JSON.parse(text);
      const expectedMasked = maskSecretContext(expected);
      const { text: spliced, masked } = splicedText(bytes);
      expect(masked).toBe(expectedMasked);
      if (expectedMasked === 0) return;
      expect(spliced).not.toBeNull();
      expect(JSON.parse(spliced!)).toEqual(expected);
      expect(spliced!.includes(SECRET)).toBe(false);
    }),
    { numRuns: 300 },
  );
});

test("when the entries without secrets are kept, then their bytes are the uploaded ones", () => {
  const text = '{"SchemaVersion": 2,\n "Results": [ {"Target":"a",  "Vulnerabilities":[]} ,\n{"Target":"b","Secrets":[{"RuleID":"x","Match":"KEY=abc"}]}\t]}';
  const { text: spliced } = splicedText(Buffer.from(text));
  expect(spliced).toBe('{"SchemaVersion": 2,\n "Results": [ {"Target":"a",  "Vulnerabilities":[]} ,\n{"Target":"b","Secrets":[{"RuleID":"x","Match":"KEY=*****"}]}\t]}');
});

test("when the top-level Results key is written twice, then the last one is spliced, as JSON.parse keeps it", () => {
  const text = '{"Results":[{"Secrets":[{"RuleID":"x","Match":"KEY=one"}]}],"SchemaVersion":2,"Results":[{"T":1},{"Secrets":[{"RuleID":"x","Match":"KEY=two"}]}]}';
  const doc: unknown = JSON.parse(text);
  const { pieces } = maskAsSplice(Buffer.from(text), doc);
  expect(JSON.parse(Buffer.concat(pieces!).toString("utf8"))).toEqual(doc);
  expect(Buffer.concat(pieces!).toString("utf8")).not.toContain("KEY=two");
});

test("when a top-level key is written with escapes, or Results is not an array, then the scan gives up (the whole document is re-serialised)", () => {
  expect(resultsElementRanges(Buffer.from('{"R\\u0065sults":[{"a":1}]}'))).toBeNull();
  expect(resultsElementRanges(Buffer.from('{"Results":{"a":[1]}}'))).toBeNull();
  expect(resultsElementRanges(Buffer.from('{"Results":null}'))).toBeNull();
  expect(resultsElementRanges(Buffer.from('[{"Results":[1]}]'))).toBeNull();
  const bytes = Buffer.from('\ufeff {"a":"]\\"[","Results": [ 1 , "x,]" ,{"b":[2]} ] }');
  expect(resultsElementRanges(bytes)?.map(([start, end]) => bytes.toString("utf8", start, end))).toEqual(["1", '"x,]"', '{"b":[2]}']);
});

test("when secret text lies outside Results, then the whole masked document is re-serialised", () => {
  const text = '{"SchemaVersion":2,"Extra":{"Secrets":[{"RuleID":"x","Match":"KEY=abc"}]},"Results":[]}';
  const doc: unknown = JSON.parse(text);
  const { masked, pieces } = maskAsSplice(Buffer.from(text), doc);
  expect(masked).toBe(1);
  expect(pieces).toBeNull();
});

test("when juice-shop's report (one secret) is stored, then the copy is the masked document, gzipped piecewise", async () => {
  const bytes = readFixture("juice-shop-v10.2.0.json");
  const expected: unknown = JSON.parse(bytes.toString("utf8"));
  const expectedMasked = maskSecretContext(expected);
  expect(expectedMasked).toBeGreaterThan(0);
  const copy = storedCopy(bytes, captureRaw(bytes), true);
  expect(copy.masked).toBe(expectedMasked);
  const { gzipped, byteSize } = await copy.written;
  const stored = gunzipSync(gzipped);
  expect(stored.length).toBe(byteSize);
  expect(JSON.parse(stored.toString("utf8"))).toEqual(expected);
  const { gzipped: again } = await gzipPieces([stored.subarray(0, 10), Buffer.alloc(0), stored.subarray(10)]);
  expect(gunzipSync(again).equals(stored)).toBe(true);
});
