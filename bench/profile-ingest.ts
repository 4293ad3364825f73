/**
 * `npx tsx bench/profile-ingest.ts`: where an upload of 10,000 findings whose vulnerability IDs are stored (the
 * ingest_10k scenario's known-ID case) spends its time. Starts the service as the bench does (`node dist/main.js
 * serve`, so `npm run build` first) with `--cpu-prof` on a dedicated embedded PostgreSQL, uploads the seed report and
 * PROFILE_ROUNDS known-ID reports, and prints each upload's wall time beside a COPY of the same rows. The service's
 * CPU profile is written to PROFILE_DIR (default bench/.profiles) when it stops; PROFILE_NODE_ARGS adds node flags
 * (e.g. `--max-semi-space-size=32`) to the service's.
 */
import fs from "node:fs";
import path from "node:path";
import { Client } from "pg";
import { decodeReport } from "../src/formats";
import { startBenchPostgres } from "./lib/postgres";
import { freePort, startNodeServer } from "./lib/processes";
import { buildTrivyReport } from "./lib/reports";
import { copyRows } from "./scenarios/ingest";
import { BENCH_ADMIN_TOKEN, upload } from "./lib/service-client";

const ROUNDS = Number(process.env.PROFILE_ROUNDS ?? 5);
const SIZE = Number(process.env.PROFILE_FINDINGS ?? 10_000);
const PROFILE_DIR = path.resolve(process.env.PROFILE_DIR ?? path.join(__dirname, ".profiles"));

async function main(): Promise<void> {
  fs.mkdirSync(PROFILE_DIR, { recursive: true });
  const pg = await startBenchPostgres();
  try {
    const url = await pg.database("profile_ingest");
    const service = await startNodeServer({
      args: ["dist/main.js", "serve"],
      nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`, ...(process.env.PROFILE_NODE_ARGS?.split(" ").filter(Boolean) ?? [])],
      env: { HOST: "127.0.0.1", DATABASE_URL: url, ADMIN_TOKEN: BENCH_ADMIN_TOKEN },
      port: await freePort(),
      readyPath: "/readyz",
      logFile: path.join(PROFILE_DIR, "service.log"),
    });
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      await client.query("CREATE TABLE bench_copy_findings (LIKE findings INCLUDING ALL)");
      await upload(service.url, JSON.stringify(buildTrivyReport(SIZE, "seed", "known").json));
      for (let round = 0; round < ROUNDS; round++) {
        const built = buildTrivyReport(SIZE, `round${round}`, "known");
        const body = Buffer.from(JSON.stringify(built.json));
        const started = performance.now();
        await upload(service.url, body);
        const ingestMs = performance.now() - started;
        const copyMs = (await copyRows(client, decodeReport(built.json).findings)) * 1000;
        process.stdout.write(`round ${round}: upload ${ingestMs.toFixed(0)} ms (${body.length} bytes), COPY ${copyMs.toFixed(0)} ms, ratio ${(copyMs / ingestMs).toFixed(3)}\n`);
      }
    } finally {
      await client.end();
      await service.stop();
    }
    process.stdout.write(`CPU profile of the service in ${PROFILE_DIR}\n`);
  } finally {
    await pg.stop();
  }
}

void main();
