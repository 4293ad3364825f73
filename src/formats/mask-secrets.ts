/**
 * Secret findings carry the text around the secret: Trivy's `Secrets[].Code.Lines[].Content` (and `Highlighted`)
 * are lines of the file the secret is in, and `Match` is the line that matched. Trivy masks the secret it found, not
 * the lines around it, and older versions or other writers may not mask at all. The registry keeps a copy of every
 * report (GET /v1/reports/{id}/raw, table scan_report_raw): that copy must not hand secrets to every reader.
 *
 * `maskSecretContext` masks, in place, in every format that carries such text:
 *   - Trivy JSON: `Results[].Secrets[]`: `Match` and each `Code.Lines[]` `Content` / `Highlighted`; the same in a
 *     secret that an ignore file or VEX took out of the list (`Results[].ExperimentalModifiedFindings[]` of Type
 *     secret, its `Finding`, kept by `--show-suppressed`);
 *   - Trivy Operator: an ExposedSecretReport's `report.secrets[].match` (also inside a List or a webhook body);
 *   - SARIF: the `Match: …` line of each result's message (Trivy writes the match there) and region snippets of
 *     secret results.
 * Everything else stays: rule ID, category, severity, title, target file, line numbers (StartLine, EndLine,
 * Code.Lines[].Number), layer. CycloneDX and ECR findings carry no secret text.
 */

/** What a masked value becomes; a key part (`ENV GITHUB_PAT=`) before it is kept when it looks like a name. */
export const MASK = "*****";

/**
 * A masked copy of one line: a leading name (letters, `_`, `-`, `.`, spaces, quotes; no digits, at most 40
 * characters) ending in `=` or `:` is kept so the reader knows which setting held the secret; the rest becomes
 * `*****`. An empty line stays empty.
 */
export function maskLine(text: string): string {
  if (text.trim() === "") return text;
  const key = /^[\sA-Za-z_.\-"'$]{1,40}?[=:]\s*/.exec(text)?.[0] ?? "";
  return key + MASK;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Masks one Trivy secret finding's Match and Code lines; returns whether anything changed. */
function maskTrivySecret(secret: Json): boolean {
  let changed = false;
  const set = (obj: Json, key: string) => {
    const v = obj[key];
    if (typeof v === "string" && v !== "") {
      const masked = maskLine(v);
      if (masked !== v) {
        obj[key] = masked;
        changed = true;
      }
    }
  };
  set(secret, "Match");
  const code = secret.Code;
  if (isObject(code) && Array.isArray(code.Lines)) for (const line of code.Lines) if (isObject(line)) for (const k of ["Content", "Highlighted"]) set(line, k);
  return changed;
}

function maskOperatorSecrets(resource: Json): number {
  const report = resource.report;
  if (!isObject(report) || !Array.isArray(report.secrets)) return 0;
  let n = 0;
  for (const s of report.secrets) {
    if (isObject(s) && typeof s.match === "string" && s.match !== "" && maskLine(s.match) !== s.match) {
      s.match = maskLine(s.match);
      n++;
    }
  }
  return n;
}

function maskSarifResult(result: Json): boolean {
  let changed = false;
  const message = result.message;
  if (isObject(message) && typeof message.text === "string") {
    const text = message.text.replace(/^(Match: )(.*)$/gm, (_all, label: string, value: string) => `${label}${maskLine(value)}`);
    if (text !== message.text) {
      message.text = text;
      changed = true;
    }
  }
  const isSecret = isObject(message) && typeof message.text === "string" && /^Secret /m.test(message.text);
  if (isSecret && Array.isArray(result.locations)) {
    for (const location of result.locations) {
      const region = isObject(location) && isObject(location.physicalLocation) ? location.physicalLocation.region : null;
      if (isObject(region) && isObject(region.snippet) && typeof region.snippet.text === "string" && region.snippet.text !== "") {
        region.snippet.text = maskLine(region.snippet.text);
        changed = true;
      }
    }
  }
  return changed;
}

/** Walks the document (any supported format, also wrapped in a List or a webhook body); returns how many were masked. */
export function maskSecretContext(doc: unknown): number {
  let masked = 0;
  const visit = (node: unknown, depth: number): void => {
    if (depth > 64) return;
    if (Array.isArray(node)) {
      for (const item of node) visit(item, depth + 1);
      return;
    }
    if (!isObject(node)) return;
    if (Array.isArray(node.Secrets)) for (const s of node.Secrets) if (isObject(s) && maskTrivySecret(s)) masked++;
    if (node.Type === "secret" && isObject(node.Finding) && maskTrivySecret(node.Finding)) masked++;
    if (node.kind === "ExposedSecretReport") masked += maskOperatorSecrets(node);
    if (Array.isArray(node.runs) && typeof node.version === "string")
      for (const run of node.runs) if (isObject(run) && Array.isArray(run.results)) for (const r of run.results) if (isObject(r) && maskSarifResult(r)) masked++;
    // for…in rather than Object.entries: no array per object (a 27 MB report has ~85,000 objects).
    for (const key in node) {
      const value = node[key];
      if (key !== "Secrets" && typeof value === "object" && value !== null) visit(value, depth + 1);
    }
  };
  visit(doc, 0);
  return masked;
}
