import { canonicalJson } from "../canonical-json";
import {
  DescribeImageScanFindingsCommand,
  DescribeImagesCommand,
  type DescribeImageScanFindingsResponse,
  type ECRClient,
  type ImageDetail,
} from "@aws-sdk/client-ecr";
import type { Pool } from "pg";
import { DomainError, conflict } from "../../domain/errors";
import { isDigest } from "../../domain/image-reference";
import type { DecodedReport } from "../../domain/report";
import { decodeEcrFindings } from "../../formats/ecr";
import { ingestReport, type IngestDependencies, type IngestResult } from "../../ingest/ingest-report";
import type { IngestAdmission } from "../../ingest/ingest-admission";
import { tooManyFindings } from "../../formats/finding-count";
import { badResponse, ecrProblem, type EcrClients } from "./client";
import { ecrHost } from "./host";
import type { EcrPassTagger, PassTagOutcome } from "./pass-tag";

export interface EcrImportRequest {
  repository: string;
  imageDigest?: string | undefined;
  imageTag?: string | undefined;
  registryId?: string | undefined;
  /** The region of the registry; default: the SDK's (AWS_REGION). Events carry their own. */
  region?: string | undefined;
  source?: string | undefined;
  uploadedBy?: string | undefined;
}

export interface EcrImportResult {
  result: IngestResult;
  passTag: PassTagOutcome | null;
  scanStatus: string;
}

export interface EcrImportDependencies {
  pool: Pool;
  clock: () => Date;
  /** As for uploads: answer once every replica has dropped the verdicts the import changed. */
  changes?: IngestDependencies["changes"];
  transactionHooks?: IngestDependencies["transactionHooks"];
  clients: EcrClients;
  passTagger: EcrPassTagger | null;
  /** MAX_REPORT_FINDINGS: an image with more findings is refused (413 too_many_findings) before its pages are read. */
  maxFindings?: number | undefined;
  /** The replica's ingest memory budget, shared with uploads (src/ingest/ingest-admission.ts). */
  admission?: Pick<IngestAdmission, "run"> | undefined;
}

/** Scan states whose findings are final: basic scans end COMPLETE, enhanced (continuous) scans are ACTIVE. */
const FINISHED = new Set(["COMPLETE", "ACTIVE"]);

/**
 * Imports one image's ECR findings as a report of format `ecr`: DescribeImages (digest and tags), then
 * DescribeImageScanFindings page by page. The stored bytes are the pages merged into one canonical JSON document,
 * so importing unchanged findings again is a duplicate. Any ECR failure throws before anything is written.
 */
export async function importEcrImage(deps: EcrImportDependencies, request: EcrImportRequest): Promise<EcrImportResult> {
  const client = deps.clients.forRegion(request.region);
  const region = await deps.clients.regionOf(client);
  const imageId = request.imageDigest ? { imageDigest: request.imageDigest } : { imageTag: request.imageTag! };
  const named = `${request.repository}${request.imageDigest ? `@${request.imageDigest}` : `:${request.imageTag}`}`;
  const where = { repositoryName: request.repository, ...(request.registryId ? { registryId: request.registryId } : {}) };

  const detail = await describeImage(client, where, imageId, named);
  const digest = detail.imageDigest;
  if (typeof digest !== "string" || !isDigest(digest)) throw badResponse(`DescribeImages gave no sha256 digest for ${named}`);

  const first = await findingPage(client, where, digest, named, undefined, 1);
  const status = first.imageScanStatus?.status ?? "UNKNOWN";
  if (!FINISHED.has(status)) {
    const description = first.imageScanStatus?.description;
    throw conflict(
      "ecr_scan_not_complete",
      `The ECR scan of ${named} is ${status}${description ? `: ${description}` : ""}. Import it once the scan is COMPLETE (basic) or ACTIVE (enhanced).`,
      { ecr_status: status, ecr_status_description: description ?? null },
    );
  }
  // The first page says how many findings there are in all (findingSeverityCounts): over MAX_REPORT_FINDINGS the
  // import stops here, and otherwise that count sizes the share of the ingest memory budget the import waits for.
  const total = Math.max(declaredFindings(first), pageFindings(first));
  if (deps.maxFindings !== undefined && total > deps.maxFindings) throw tooManyFindings(total, deps.maxFindings);
  const firstBytes = Buffer.byteLength(JSON.stringify(first));
  const estimatedBytes = Math.max(firstBytes, Math.ceil((firstBytes / Math.max(1, pageFindings(first))) * total));
  const work = async () => {
    const pages = await allFindingPages(client, where, digest, named, first, deps.maxFindings);
    const document = mergePages(pages, digest);
    const bytes = Buffer.from(canonicalJson(document), "utf8");
    const registryId = request.registryId ?? pages[0]?.registryId ?? detail.registryId;
    if (!registryId) throw badResponse(`no registryId for ${named}`);
    const report = decodeStored(bytes, ecrHost(registryId, region), detail.imageTags ?? []);
    return ingestReport(
      { pool: deps.pool, clock: deps.clock, changes: deps.changes, transactionHooks: deps.transactionHooks },
      { bytes, report, digests: [digest], source: request.source ?? "ecr", uploadedBy: request.uploadedBy },
    );
  };
  const result = deps.admission ? await deps.admission.run(estimatedBytes, work) : await work();
  const passTag = deps.passTagger ? ((await deps.passTagger.afterIngest(result))[0] ?? null) : null;
  return { result, passTag, scanStatus: status };
}

async function describeImage(client: ECRClient, where: Where, imageId: { imageDigest: string } | { imageTag: string }, named: string): Promise<ImageDetail> {
  let answer;
  try {
    answer = await client.send(new DescribeImagesCommand({ ...where, imageIds: [imageId] }));
  } catch (error) {
    throw ecrProblem(error, `describing ${named}`);
  }
  const detail = answer?.imageDetails?.[0];
  if (!detail || typeof detail !== "object") throw badResponse(`DescribeImages returned no image details for ${named}`);
  return detail;
}

type Where = { repositoryName: string; registryId?: string };

async function findingPage(client: ECRClient, where: Where, digest: string, named: string, nextToken: string | undefined, number: number): Promise<DescribeImageScanFindingsResponse> {
  let page: DescribeImageScanFindingsResponse;
  try {
    page = await client.send(
      new DescribeImageScanFindingsCommand({ ...where, imageId: { imageDigest: digest }, maxResults: 1000, ...(nextToken ? { nextToken } : {}) }),
    );
  } catch (error) {
    throw ecrProblem(error, `reading the scan findings of ${named} (page ${number})`);
  }
  if (!page || typeof page !== "object") throw badResponse(`DescribeImageScanFindings page ${number} is empty`);
  return page;
}

const pageFindings = (page: DescribeImageScanFindingsResponse): number =>
  (page.imageScanFindings?.findings?.length ?? 0) + (page.imageScanFindings?.enhancedFindings?.length ?? 0);

/** The findings ECR says the scan has in all (basic and enhanced scans both give findingSeverityCounts). */
function declaredFindings(page: DescribeImageScanFindingsResponse): number {
  const counts = page.imageScanFindings?.findingSeverityCounts ?? {};
  return Object.values(counts).reduce((n: number, c) => n + (typeof c === "number" && Number.isFinite(c) && c > 0 ? c : 0), 0);
}

/** The first page and every page after it; past `maxFindings` (counts that understated the pages) it stops with 413. */
async function allFindingPages(
  client: ECRClient,
  where: Where,
  digest: string,
  named: string,
  first: DescribeImageScanFindingsResponse,
  maxFindings: number | undefined,
): Promise<DescribeImageScanFindingsResponse[]> {
  const pages: DescribeImageScanFindingsResponse[] = [first];
  let findings = pageFindings(first);
  let nextToken = first.nextToken;
  while (nextToken) {
    const page = await findingPage(client, where, digest, named, nextToken, pages.length + 1);
    pages.push(page);
    findings += pageFindings(page);
    if (maxFindings !== undefined && findings > maxFindings) throw tooManyFindings(findings, maxFindings, page.nextToken !== undefined);
    if (pages.length > 10_000) throw badResponse("DescribeImageScanFindings kept returning a nextToken after 10,000 pages");
    nextToken = page.nextToken;
  }
  return pages;
}

/** All pages → one DescribeImageScanFindings document (the first page's metadata, every page's findings). */
function mergePages(pages: DescribeImageScanFindingsResponse[], digest: string): object {
  const first = pages[0]!;
  const findings = pages.flatMap((p) => p.imageScanFindings?.findings ?? []);
  const enhanced = pages.flatMap((p) => p.imageScanFindings?.enhancedFindings ?? []);
  const scan = first.imageScanFindings ?? {};
  return {
    registryId: first.registryId,
    repositoryName: first.repositoryName,
    // The digest only: importing by tag or by digest stores the same bytes.
    imageId: { imageDigest: first.imageId?.imageDigest ?? digest },
    imageScanStatus: first.imageScanStatus,
    imageScanFindings: {
      imageScanCompletedAt: scan.imageScanCompletedAt,
      vulnerabilitySourceUpdatedAt: scan.vulnerabilitySourceUpdatedAt,
      findingSeverityCounts: scan.findingSeverityCounts,
      ...(findings.length || scan.findings ? { findings } : {}),
      ...(enhanced.length || scan.enhancedFindings ? { enhancedFindings: enhanced } : {}),
    },
  };
}

/** Decodes what will be stored (not the SDK objects), so the stored bytes always decode to the same report. */
function decodeStored(bytes: Buffer, registryHost: string, tags: string[]): DecodedReport {
  try {
    return decodeEcrFindings(JSON.parse(bytes.toString("utf8")), { registryHost, tags });
  } catch (error) {
    if (error instanceof DomainError && error.code === "invalid_report") throw badResponse(error.message, error.errors);
    throw error;
  }
}
