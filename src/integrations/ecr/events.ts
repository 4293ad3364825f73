import { invalid } from "../../domain/errors";
import { isDigest } from "../../domain/image-reference";
import { isJsonObject } from "../../formats/shared";
import { isAccountId, isAwsRegion, isEcrRepositoryName, isImageTag } from "./names";
import type { EcrRegistryPolicy } from "./registries";

/** The image an EventBridge event names, ready for importEcrImage. */
export interface EcrEventImage {
  kind: "ECR Image Scan" | "Inspector2 Scan";
  repository: string;
  imageDigest: string;
  registryId: string;
  region: string;
  scanStatus: string | null;
}

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
  const registryId = text(event.account) ?? fromArn?.registryId;
  const region = text(event.region) ?? fromArn?.region;
  // Every field that decides which AWS call is made is checked by ECR's own rules first: nothing of a malformed event
  // reaches the SDK.
  const errors: Array<{ path: string; message: string }> = [];
  if (!repository) errors.push({ path: `${at}detail.repository-name`, message: "required: the repository name or ARN" });
  else if (!isEcrRepositoryName(repository))
    errors.push({ path: `${at}detail.repository-name`, message: "not an ECR repository name (lower-case path components of letters, digits and . _ -, 2–256 characters)" });
  if (!imageDigest || !isDigest(imageDigest)) errors.push({ path: `${at}detail.image-digest`, message: "required: a sha256 image digest" });
  if (!registryId) errors.push({ path: `${at}account`, message: "required: the AWS account of the registry" });
  else if (!isAccountId(registryId)) errors.push({ path: `${at}account`, message: "not an AWS account ID (12 digits)" });
  if (!region) errors.push({ path: `${at}region`, message: "required: the AWS region of the registry" });
  else if (!isAwsRegion(region)) errors.push({ path: `${at}region`, message: "not an AWS region name (e.g. eu-west-1)" });
  const tags = detail["image-tags"];
  if (tags !== undefined && tags !== null) {
    if (!Array.isArray(tags)) errors.push({ path: `${at}detail.image-tags`, message: "a list of tags" });
    else
      tags.slice(0, 1000).forEach((tag, i) => {
        if (typeof tag !== "string" || !isImageTag(tag)) errors.push({ path: `${at}detail.image-tags.${i}`, message: "not an image tag" });
      });
  }
  if (errors.length) throw invalid("invalid_event", `The ${kind} event does not name a valid ECR image.`, errors.slice(0, 50));
  return {
    kind,
    repository: repository!,
    imageDigest: imageDigest!,
    registryId: registryId!,
    region: region!,
    scanStatus: text(detail["scan-status"]) ?? null,
  };
}

/**
 * Refuses (422) every event whose registry is not one the operator configured (ECR_REGISTRIES), all before any
 * import starts, so that a batch is either handled or refused whole and no AWS call is made for a refused one.
 */
export async function assertConfiguredRegistries(images: readonly EcrEventImage[], registries: EcrRegistryPolicy, arrayBody: boolean): Promise<void> {
  const errors: Array<{ path: string; message: string }> = [];
  for (const [index, image] of images.entries()) {
    if (!(await registries.allows(image.registryId, image.region))) {
      errors.push({ path: `${arrayBody ? `${index}.` : ""}account`, message: `${image.registryId} in ${image.region} is not a configured ECR registry (${registries.describe()})` });
    }
  }
  if (errors.length) {
    throw invalid(
      "ecr_registry_not_configured",
      "The event names an ECR registry this service does not import from: add its account (or account.region) to ECR_REGISTRIES.",
      errors.slice(0, 50),
    );
  }
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
