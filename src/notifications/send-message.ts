import fs from "node:fs";
import path from "node:path";
import type { DestinationWithSecret } from "../domain/notification";
import { sendHttp, type SendResult } from "./http-sender";
import { buildRequest, type MessageGroup } from "./payloads";

/** How a message leaves the service: address policy, time limit, links. From NOTIFICATION_* and PUBLIC_URL. */
export interface SendSettings {
  allowPrivateNetworks: boolean;
  timeoutMs: number;
  publicUrl: string | undefined;
}

/** Response bytes read at most: enough for an error message, never a receiver's whole page. */
const MAX_RESPONSE_BYTES = 4096;

let userAgent: string | null = null;
function agentName(): string {
  if (userAgent) return userAgent;
  let version = "0.0.0";
  try {
    // src/notifications or dist/notifications: the package root is two levels up either way.
    version = (JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")) as { version: string }).version;
  } catch {
    /* keep 0.0.0 */
  }
  return (userAgent = `scan-registry/${version} (notifications)`);
}

/** Formats the group for the destination's type and POSTs it; every outcome is a value, with how long it took. */
export async function sendMessage(
  destination: DestinationWithSecret,
  group: MessageGroup,
  settings: SendSettings,
  now: Date,
  signal?: AbortSignal,
): Promise<{ result: SendResult; durationMs: number }> {
  const started = performance.now();
  const request = buildRequest(destination, group, { publicUrl: settings.publicUrl, userAgent: agentName(), now });
  const result = await sendHttp(request, {
    timeoutMs: settings.timeoutMs,
    maxResponseBytes: MAX_RESPONSE_BYTES,
    allowPrivateNetworks: settings.allowPrivateNetworks,
    signal,
  });
  return { result, durationMs: Math.round(performance.now() - started) };
}
