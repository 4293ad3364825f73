#!/usr/bin/env node
import { runCli } from "./cli";

void runCli(process.argv.slice(2)).then((code) => {
  if (typeof code === "number") process.exitCode = code;
});
