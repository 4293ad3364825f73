import { invalid } from "../../domain/errors";
import { isDigest } from "../../domain/image-reference";
import { isJsonObject } from "../../formats/shared";

/** The image an EventBridge event names, ready for importEcrImage. */
export interface EcrEventImage {
  kind: "ECR Image Scan" | "Inspector2 Scan";
  repository: string;
  imageDigest: string;
  registryId: string | undefined;
  region: string | undefined;
  scanStatus: string | null;
}

type Json = Record<string, unknown>;
const isObject = isJsonObject;
const text = (v: unknown): string | undefined => (typeof v === "string" && v.trim() !== "" ? v.trim() : undefined);

/** `arn:aws:ecr:<region>:<account>:repository/<name>[/sha256:…]` → its parts. */
const REPOSITORY_ARN = /^arn:aws[\w-]*:ecr:([a-z0-9-]+):(\d{12}):repository\/(.+?)(?:\/(sha256:[0-9a-f]{64}))?$/;

function parseRepositoryArn(arn: string): { region: string; registryId: string; repository: string; digest?: string } | null {
  const m = REPOSITORY_ARN.exec(arn);
  return m ? { region: m[1]!, registryId: m[2]!, repository: m[3]!, ...(m[4] ? { digest: m[4] } : {}) } : null;
}

/**
 * EventBridge events as an API destination delivers them (one event object; an array is accepted too):
 * - `ECR Image Scan` (source aws.ecr, basic scanning): detail.repository-name, detail.image-digest, detail.scan-status;
 * - `Inspector2 Scan` (source aws.inspector2, enhanced scanning): detail.repository-name may be a repository ARN, the
 *   digest is in detail.image-digest or at the end of a resource ARN.
 * Anything else → 422 `unsupported_event`, naming what was received.
 */
export function parseEcrEvents(body: unknown): EcrEventImage[] {
  const events = Array.isArray(body) ? body : [body];
  if (events.length === 0) throw invalid("unsupported_event", "The body is an empty array: no event to handle.");
  return events.map((event, index) => parseEvent(event, Array.isArray(body) ? `${index}.` : ""));
}

function parseEvent(event: unknown, at: string): EcrEventImage {
  if (!isObject(event)) throw unsupportedEvent(event, at);
  const kind = event["detail-type"];
  if (kind !== "ECR Image Scan" && kind !== "Inspector2 Scan") throw unsupportedEvent(event, at);
  const detail = isObject(event.detail) ? event.detail : {};
  const resources = Array.isArray(event.resources) ? event.resources.filter((r): r is string => typeof r === "string") : [];
  const arns = [text(detail["repository-name"]), ...resources].map((r) => (r ? parseRepositoryArn(r) : null));
  const fromArn = arns.find((a) => a !== null) ?? null;

  const rawName = text(detail["repository-name"]);
  const repository = rawName && !rawName.startsWith("arn:") ? rawName : fromArn?.repository;
  const imageDigest = text(detail["image-digest"]) ?? arns.find((a) => a?.digest)?.digest;
  const errors = [];
  if (!repository) errors.push({ path: `${at}detail.repository-name`, message: "required: the repository name or ARN" });
  if (!imageDigest || !isDigest(imageDigest)) errors.push({ path: `${at}detail.image-digest`, message: "required: a sha256 image digest" });
  if (errors.length) throw invalid("invalid_event", `The ${kind} event does not name an image.`, errors);
  return {
    kind,
    repository: repository!,
    imageDigest: imageDigest!,
    registryId: text(event.account) ?? fromArn?.registryId,
    region: text(event.region) ?? fromArn?.region,
    scanStatus: text(detail["scan-status"]) ?? null,
  };
}

function unsupportedEvent(event: unknown, at: string) {
  const e = isObject(event) ? event : {};
  const received = {
    "detail-type": e["detail-type"] ?? null,
    source: e.source ?? null,
    keys: isObject(event) ? Object.keys(event).slice(0, 12) : typeof event,
  };
  return invalid(
    "unsupported_event",
    `Received an event with detail-type ${JSON.stringify(received["detail-type"])} from source ${JSON.stringify(received.source)}; ` +
      'only "ECR Image Scan" (aws.ecr) and "Inspector2 Scan" (aws.inspector2) events are handled. Narrow the EventBridge rule to those.',
    [{ path: `${at}detail-type`, message: `received ${JSON.stringify(received)}` }],
  );
}
