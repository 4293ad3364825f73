import { promisify } from "node:util";
import { gunzip, gzip } from "node:zlib";
import type { Pool } from "pg";
import type { Logger } from "pino";
import { listUnmaskedSecretCopies, markUnmaskedCopiesWithoutSecrets, replaceRawCopy } from "../db/report-repository";
import { maskSecretContext } from "../formats/mask-secrets";

const gunzipAsync = promisify(gunzip);
const gzipAsync = promisify(gzip);
const BATCH = 50;

/**
 * Masks the secret context in report copies stored before uploads were masked (scan_report_raw.secrets_masked
 * NULL), once, at start: those without secret findings are marked in one statement, the others are read, masked
 * and written back a few at a time. Returns how many copies were rewritten.
 */
export async function maskStoredCopies(pool: Pool, logger: Pick<Logger, "info" | "warn">): Promise<number> {
  await markUnmaskedCopiesWithoutSecrets(pool);
  let rewritten = 0;
  for (;;) {
    const rows = await listUnmaskedSecretCopies(pool, BATCH);
    if (rows.length === 0) break;
    for (const row of rows) {
      let doc: unknown = null;
      try {
        doc = JSON.parse((await gunzipAsync(row.gzip_bytes)).toString("utf8"));
      } catch (error) {
        logger.warn({ report: row.report_id, err: (error as Error).message }, "stored report copy is not readable JSON; left as it is");
      }
      if (doc !== null && maskSecretContext(doc) > 0) {
        const bytes = Buffer.from(JSON.stringify(doc), "utf8");
        await replaceRawCopy(pool, row.report_id, { byteSize: bytes.length, gzipBytes: await gzipAsync(bytes) });
        rewritten++;
      } else {
        await replaceRawCopy(pool, row.report_id, null);
      }
    }
  }
  if (rewritten > 0) logger.info({ reports: rewritten }, "secret context masked in stored report copies");
  return rewritten;
}
