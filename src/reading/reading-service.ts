import type { Pool } from "pg";
import { decisionsQuery, listDecisions, listLatestImageDecisions, type DecisionFilter, type DecisionRow } from "../db/decision-repository";
import { streamQuery } from "../db/export-cursor";
import {
  currentFindingsSortedQuery,
  listCurrentFindings,
  listCurrentFindingsPage,
  listUnexceptedVulnerabilityIds,
  type FindingFilter,
  type FindingPageRow,
  type FindingSort,
} from "../db/finding-repository";
import {
  findImageScan,
  findImageScans,
  imageScansSortedQuery,
  listImageScans,
  listImageScansSorted,
  listRepositories,
  type ImageScanFilter,
  type ImageScanRow,
  type ImageSort,
} from "../db/image-scan-repository";
import { countImagesByStatus, decisionsPerDay, nonCompliantByRepository, sumFindingsBySeverity } from "../db/overview-read-model";
import { listExceptionsExpiringBetween } from "../db/policy-repository";
import { countReportFindings, findRawReport, findReportWithImages, listImageReports } from "../db/report-repository";
import {
  countRuntimeByClusterAndStatus,
  listRunningImage,
  listRunningWithVulnerability,
  listRunningWorkloads,
  listViolations,
  summariseRunningByNamespace,
  type ViolationFilter,
  type WorkloadFilter,
} from "../db/runtime-read-model";
import { findVulnerabilityWithImages, type AffectedImageKey } from "../db/vulnerability-repository";
import { listRepositoriesWithImages } from "../db/repository-read-model";
import { listDailySnapshots } from "../db/snapshot-repository";
import {
  fleetVulnerabilityQuery,
  listFleetVulnerabilities,
  type FleetVulnerabilityFilter,
  type FleetVulnerabilityRow,
  type FleetVulnerabilitySort,
} from "../db/vulnerability-fleet-read-model";
import { gone, notFound } from "../domain/errors";
import { findReportPrunedAt } from "../db/retention-repository";
import type { PrismaClient } from "../generated/prisma/client";

export interface ReadingDependencies {
  pool: Pool;
  prisma: PrismaClient;
}

const DAY_MS = 86_400_000;

/**
 * What the API's reading endpoints and the dashboard's pages read: the same functions, so their filters, row shapes
 * and "not found" answers cannot drift (paging differs: the API pages by cursor, the dashboard by offset).
 */
export class ReadingService {
  constructor(private readonly deps: ReadingDependencies) {}

  listImages(filter: ImageScanFilter & { limit: number; after?: string | undefined }) {
    return listImageScans(this.deps.pool, filter);
  }

  /** A sorted offset page of images (the dashboard's list). */
  listImagesSorted(filter: ImageScanFilter & { sort: ImageSort; offset: number; limit: number }) {
    return listImageScansSorted(this.deps.pool, filter);
  }

  repositories() {
    return listRepositories(this.deps.pool);
  }

  /** An image's current verdict and counts; not_found when no report names it. */
  async image(digest: string): Promise<ImageScanRow> {
    const row = await findImageScan(this.deps.pool, digest);
    if (!row) throw notFound("image_not_found", `No report has been uploaded for ${digest}.`);
    return row;
  }

  /** Several images' current rows at once (dry-run rows and exception rows name their repository and tags). */
  imagesByDigest(digests: readonly string[]): Promise<Map<string, ImageScanRow>> {
    return findImageScans(this.deps.pool, [...new Set(digests)]).then((rows) => new Map(rows.map((r) => [r.image_digest, r])));
  }

  imageReports(digest: string) {
    return listImageReports(this.deps.prisma, digest);
  }

  /** A cursor page of the image's current findings (the API). */
  imageFindings(digest: string, filter: FindingFilter & { limit: number; afterId?: string | undefined }) {
    return listCurrentFindings(this.deps.pool, digest, filter);
  }

  /** A sorted offset page of the image's current findings with the total (the dashboard). */
  imageFindingsPage(digest: string, filter: FindingFilter & { sort: FindingSort; offset: number; limit: number }) {
    return listCurrentFindingsPage(this.deps.pool, digest, filter);
  }

  unexceptedVulnerabilityIds(digest: string) {
    return listUnexceptedVulnerabilityIds(this.deps.pool, digest);
  }

  latestImageDecisions(digest: string) {
    return listLatestImageDecisions(this.deps.pool, digest);
  }

  decisions(filter: DecisionFilter) {
    return listDecisions(this.deps.pool, filter);
  }

  /** A vulnerability and one page of the images that have it now, by repository then digest. */
  vulnerability(id: string, page: { limit: number; after?: AffectedImageKey | undefined }) {
    return findVulnerabilityWithImages(this.deps.pool, id, page);
  }

  /**
   * Exports (the dashboard's CSV and JSON downloads): the same filters and order as the pages, read through one
   * server-side cursor a batch at a time; `onBatch` writes each batch and answers false to stop.
   */
  streamImages(filter: ImageScanFilter & { sort: ImageSort }, onBatch: (rows: ImageScanRow[]) => Promise<boolean>) {
    return streamQuery(this.deps.pool, imageScansSortedQuery(filter), onBatch);
  }

  streamImageFindings(digest: string, filter: FindingFilter & { sort: FindingSort }, onBatch: (rows: FindingPageRow[]) => Promise<boolean>) {
    return streamQuery(this.deps.pool, currentFindingsSortedQuery(digest, filter), onBatch);
  }

  streamFleetVulnerabilities(filter: FleetVulnerabilityFilter, sort: FleetVulnerabilitySort, now: Date, onBatch: (rows: FleetVulnerabilityRow[]) => Promise<boolean>) {
    return streamQuery(this.deps.pool, fleetVulnerabilityQuery(filter, sort, now), onBatch);
  }

  streamDecisions(filter: Omit<DecisionFilter, "limit" | "cursor">, onBatch: (rows: DecisionRow[]) => Promise<boolean>) {
    return streamQuery(this.deps.pool, decisionsQuery(filter), onBatch);
  }

  /** The daily snapshots of the `days` UTC days up to `now`'s (the overview's trends). */
  trends(now: Date, days: number) {
    return listDailySnapshots(this.deps.pool, now, days);
  }

  /** A page of repositories with their newest digests, tags and verdicts (the dashboard's /ui/repositories). */
  repositoriesWithImages(o: Parameters<typeof listRepositoriesWithImages>[1]) {
    return listRepositoriesWithImages(this.deps.pool, o);
  }

  /** A sorted offset page of the fleet-wide vulnerability list (the dashboard's /ui/vulnerabilities). */
  fleetVulnerabilities(filter: FleetVulnerabilityFilter & { sort: FleetVulnerabilitySort; offset: number; limit: number }, now: Date) {
    return listFleetVulnerabilities(this.deps.pool, filter, now);
  }

  /** A stored report's metadata, images and finding counts; not_found when there is no such report. */
  async report(id: string) {
    const report = await findReportWithImages(this.deps.prisma, id);
    if (!report) throw notFound("report_not_found", `No report ${id}.`);
    return { report, findings: await countReportFindings(this.deps.prisma, id) };
  }

  /** The report's bytes as uploaded, gzip-compressed; not_found when there is no such report. */
  async rawReport(id: string): Promise<Buffer> {
    const gz = await findRawReport(this.deps.pool, id);
    if (!gz) {
      const prunedAt = await findReportPrunedAt(this.deps.pool, id);
      if (prunedAt)
        throw gone("report_pruned", `Report ${id} was superseded and its stored copy was deleted by history retention on ${prunedAt.toISOString()} (RETENTION_SUPERSEDED_DAYS); its metadata and counts remain at /v1/reports/${id}.`, { pruned_at: prunedAt.toISOString() });
      throw notFound("report_not_found", `No report ${id}.`);
    }
    return gz;
  }

  /** The dashboard overview's figures at `now`: verdict counts, severities, repositories, decisions, expiring exceptions. */
  async overview(now: Date, o: { decisionDays: number; expiringDays: number; repositories: number }) {
    const q = this.deps.pool;
    const [counts, severities, repositories, days, expiring] = await Promise.all([
      countImagesByStatus(q, new Date(now.getTime() - o.decisionDays * DAY_MS)),
      sumFindingsBySeverity(q),
      nonCompliantByRepository(q, o.repositories),
      decisionsPerDay(q, now, o.decisionDays),
      listExceptionsExpiringBetween(q, now, new Date(now.getTime() + o.expiringDays * DAY_MS)),
    ]);
    return { counts, severities, repositories, days, expiring };
  }

  /** A cursor page of the containers running now (GET /v1/workloads). */
  workloads(filter: WorkloadFilter & { limit: number; cursor?: string | undefined }) {
    return listRunningWorkloads(this.deps.pool, filter);
  }

  /** A cursor page of runtime violations, newest first (GET /v1/violations). */
  violations(filter: ViolationFilter & { limit: number; cursor?: string | undefined }) {
    return listViolations(this.deps.pool, filter);
  }

  /** The containers running now whose image's current report has the vulnerability (at most `limit`), and their count. */
  runningWithVulnerability(id: string, limit: number) {
    return listRunningWithVulnerability(this.deps.pool, id, limit);
  }

  /** Running containers and open violations by cluster and status (the overview's running figures). */
  runtimeCounts() {
    return countRuntimeByClusterAndStatus(this.deps.pool);
  }

  /** The Running page's per-namespace summary, namespaces with open violations first. */
  runningByNamespace(filter: { cluster?: string | undefined; namespace?: string | undefined }) {
    return summariseRunningByNamespace(this.deps.pool, filter);
  }

  /** The containers running one image now (at most `limit`) and their count. */
  runningImage(digest: string, limit: number) {
    return listRunningImage(this.deps.pool, digest, limit);
  }
}
