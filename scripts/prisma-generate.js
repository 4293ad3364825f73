#!/usr/bin/env node
// `prisma generate` is WebAssembly, but the CLI first checks for a native schema engine that it would download from
// a host this network cannot reach. Pointing PRISMA_SCHEMA_ENGINE_BINARY at any existing file satisfies that check;
// generate never runs it.
const { execFileSync } = require("node:child_process");
const path = require("node:path");
const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: "1", CHECKPOINT_DISABLE: "1" };
env.PRISMA_SCHEMA_ENGINE_BINARY ||= __filename;
execFileSync(process.execPath, [require.resolve("prisma/build/index.js"), "generate"], {
  stdio: "inherit",
  env,
  cwd: path.join(__dirname, ".."),
});
