/**
 * Integrations build the report bytes they store themselves (ECR pages, combined operator resources); canonical JSON
 * makes the same content give the same bytes, so report_sha256 recognises a re-import as a duplicate.
 */
/** JSON with object keys sorted and undefined dropped; Dates as ISO strings. Same content → same bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}
