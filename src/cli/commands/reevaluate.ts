import type { Command } from "commander";
import { callApi, clientOptions, output, withConnectionOptions } from "../client";

/** `scan-registry reevaluate`: every stored image evaluated again now, under the policy in force (admin). */
export function register(program: Command): void {
  withConnectionOptions(
    program
      .command("reevaluate")
      .description("re-evaluate every stored image now under the policy in force (needs an admin token)")
      .option("--json", "print the API answer as JSON"),
  ).action(async (opts: { url?: string; token?: string; json?: boolean }) => {
    const { body } = await callApi<{ version: number; reevaluated: number; changed: number }>(clientOptions(opts), "POST", "/v1/reevaluate");
    output(opts, body, () => `Re-evaluated ${body.reevaluated} images under policy version ${body.version}: ${body.changed} changed.`);
  });
}
