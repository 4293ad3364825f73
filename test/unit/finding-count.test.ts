import fc from "fast-check";
import { DomainError } from "../../src/domain/errors";
import { refuseObviouslyTooManyFindings } from "../../src/formats/finding-count";

/** What the check must decide: refuse when either key, as bytes, occurs more than `limit` times (at any position). */
function occurrences(text: string, key: string): number {
  let n = 0;
  for (let at = text.indexOf(key); at !== -1; at = text.indexOf(key, at + 1)) n++;
  return n;
}
/** Whether the check refuses `text` (with its 413 domain error). */
function refused(text: string, limit: number): boolean {
  try {
    refuseObviouslyTooManyFindings(Buffer.from(text), limit);
    return false;
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    return true;
  }
}

test("when either key occurs more than the limit, then it is refused; the two keys are counted apart, never summed", () => {
  const trivy = (n: number) => JSON.stringify({ Results: [{ Vulnerabilities: Array.from({ length: n }, (_, i) => ({ VulnerabilityID: `CVE-${i}` })) }] });
  const operator = (n: number) => JSON.stringify({ report: { vulnerabilities: Array.from({ length: n }, (_, i) => ({ vulnerabilityID: `CVE-${i}` })) } });
  expect(refused(trivy(3), 3)).toBe(false);
  expect(refused(trivy(4), 3)).toBe(true);
  expect(refused(operator(4), 3)).toBe(true);
  expect(refused(trivy(3) + operator(3), 3)).toBe(false);
  // Not keys: a value ending the same way, an escaped quote inside a string, the key at the very start of the bytes.
  expect(refused(`{"a":"xulnerabilityID","b":"\\"VulnerabilityID\\""}`.repeat(5), 1)).toBe(false);
  expect(refused(`"VulnerabilityID""VulnerabilityID"`, 1)).toBe(true);
});

test("for any bytes made of key-like pieces, it refuses exactly when a key occurs more than the limit", () => {
  const piece = fc.constantFrom('"VulnerabilityID"', '"vulnerabilityID"', "ulnerabilityID\"", '\\"', '"', "V", "v", "x", '"xulnerabilityID"', "{", ":", ",");
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 60 }), fc.integer({ min: 0, max: 6 }), (pieces, limit) => {
      const text = pieces.join("");
      const expected = occurrences(text, '"VulnerabilityID"') > limit || occurrences(text, '"vulnerabilityID"') > limit;
      expect(refused(text, limit)).toBe(expected);
    }),
    { numRuns: 2000 },
  );
});
