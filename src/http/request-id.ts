import crypto from "node:crypto";
import type { IncomingMessage } from "node:http";

const CLIENT_REQUEST_ID = /^[\w.-]{1,64}$/;

/** The caller's X-Request-Id when it is a short plain token, else a new UUID (never echo arbitrary header text). */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  return typeof given === "string" && CLIENT_REQUEST_ID.test(given) ? given : crypto.randomUUID();
}
