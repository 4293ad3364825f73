/**
 * A fake Amazon ECR speaking AWS JSON 1.1 on 127.0.0.1, for the real @aws-sdk/client-ecr: POST / with
 * `X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Operation>`, JSON bodies, timestamps as epoch seconds, errors
 * as HTTP 400 `{"__type": "…Exception", "message": …}`. Point the SDK at it with AWS_ENDPOINT_URL_ECR.
 *
 * Implements DescribeImages, DescribeImageScanFindings, BatchGetImage and PutImage over an in-memory registry, with
 * scripted failures (`failNext`) and raw answers (`answerNext`) to exercise retries and bad responses.
 */
import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

const TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921.";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

export interface FakeImage {
  digest: string;
  tags: string[];
  manifest: string;
  mediaType: string;
  pushedAt: Date;
  scanStatus: { status: string; description?: string };
  scanCompletedAt?: Date;
  /** Basic scanning findings, as ECR returns them. */
  findings?: Array<Record<string, unknown>>;
  /** Enhanced (Inspector) findings, as ECR returns them (timestamps already epoch seconds). */
  enhancedFindings?: Array<Record<string, unknown>>;
}

export interface FakeRepository {
  name: string;
  registryId: string;
  immutable: boolean;
  images: FakeImage[];
}

export interface FakeCall {
  operation: string;
  body: Record<string, any>;
}

type Scripted =
  | { kind: "error"; type: string; message: string; status: number }
  | { kind: "raw"; body: string; status: number }
  | { kind: "pass" };

const seconds = (d: Date | undefined) => (d ? d.getTime() / 1000 : undefined);

/** A manifest and its digest (the digest of the exact bytes, as a registry computes it). */
export function makeManifest(seed: string, mediaType = DOCKER_MANIFEST): { manifest: string; digest: string } {
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType,
    config: { mediaType: "application/vnd.docker.container.image.v1+json", size: 1234, digest: `sha256:${hash(`config-${seed}`)}` },
    layers: [{ mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", size: 5678, digest: `sha256:${hash(`layer-${seed}`)}` }],
  });
  return { manifest, digest: `sha256:${hash(manifest)}` };
}

function hash(text: string): string {
  return crypto.createHash("sha256").update(text).digest("hex");
}

export class FakeEcr {
  readonly repositories = new Map<string, FakeRepository>();
  readonly calls: FakeCall[] = [];
  /** Findings per DescribeImageScanFindings page (the smaller of this and the request's maxResults). */
  findingsPageSize = 100;
  /** Images per DescribeImages page when listing a repository. */
  imagesPageSize = 100;
  private readonly scripted = new Map<string, Scripted[]>();
  private server: http.Server | null = null;
  url = "";

  constructor(readonly defaultRegistryId = "123456789012") {}

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  addRepository(name: string, options: { immutable?: boolean; registryId?: string } = {}): FakeRepository {
    const repo = { name, registryId: options.registryId ?? this.defaultRegistryId, immutable: options.immutable ?? false, images: [] };
    this.repositories.set(`${repo.registryId}/${name}`, repo);
    return repo;
  }

  addImage(repository: string, image: Partial<FakeImage> & { seed: string }, registryId = this.defaultRegistryId): FakeImage {
    const repo = this.repositories.get(`${registryId}/${repository}`) ?? this.addRepository(repository, { registryId });
    const { manifest, digest } = makeManifest(image.seed, image.mediaType);
    const full: FakeImage = {
      digest,
      manifest,
      mediaType: DOCKER_MANIFEST,
      tags: [],
      pushedAt: new Date("2026-11-01T10:00:00Z"),
      scanStatus: { status: "COMPLETE", description: "The scan was completed successfully." },
      scanCompletedAt: new Date("2026-11-01T10:05:00Z"),
      ...image,
    };
    for (const other of repo.images) other.tags = other.tags.filter((t) => !full.tags.includes(t));
    repo.images.push(full);
    return full;
  }

  /** The next `times` calls of `operation` fail with `type` (HTTP 400 unless `status` says otherwise). */
  failNext(operation: string, times: number, type: string, message = `${type} (scripted)`, status = 400): void {
    const list = this.scripted.get(operation) ?? [];
    for (let i = 0; i < times; i++) list.push({ kind: "error", type, message, status });
    this.scripted.set(operation, list);
  }

  /** The next call of `operation` answers exactly `body` with HTTP `status`. */
  answerNext(operation: string, body: string, status = 200): void {
    const list = this.scripted.get(operation) ?? [];
    list.push({ kind: "raw", body, status });
    this.scripted.set(operation, list);
  }

  /** The next `times` calls of `operation` are answered normally (to script a later call). */
  passNext(operation: string, times = 1): void {
    const list = this.scripted.get(operation) ?? [];
    for (let i = 0; i < times; i++) list.push({ kind: "pass" });
    this.scripted.set(operation, list);
  }

  callsOf(operation: string): FakeCall[] {
    return this.calls.filter((c) => c.operation === operation);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers["x-amz-target"] ?? "");
    const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : target;
    let body: Record<string, any> = {};
    try {
      body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : {};
    } catch {
      return this.send(res, 400, { __type: "SerializationException", message: "body is not JSON" });
    }
    this.calls.push({ operation, body });
    const next = this.scripted.get(operation)?.shift();
    if (next?.kind === "error") return this.send(res, next.status, { __type: next.type, message: next.message });
    if (next?.kind === "raw") {
      res.writeHead(next.status, { "Content-Type": "application/x-amz-json-1.1", "Content-Length": Buffer.byteLength(next.body) });
      res.end(next.body);
      return;
    }
    try {
      const answer = this.operate(operation, body);
      this.send(res, 200, answer);
    } catch (error) {
      const e = error as { type?: string; message: string };
      this.send(res, 400, { __type: e.type ?? "ServerException", message: e.message });
    }
  }

  private send(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { "Content-Type": "application/x-amz-json-1.1", "Content-Length": Buffer.byteLength(text), "x-amzn-RequestId": crypto.randomUUID() });
    res.end(text);
  }

  private operate(operation: string, body: Record<string, any>): unknown {
    switch (operation) {
      case "DescribeImages":
        return this.describeImages(body);
      case "DescribeImageScanFindings":
        return this.describeImageScanFindings(body);
      case "BatchGetImage":
        return this.batchGetImage(body);
      case "PutImage":
        return this.putImage(body);
      default:
        throw { type: "UnknownOperationException", message: `fake ECR does not implement ${operation}` };
    }
  }

  private repository(body: Record<string, any>): FakeRepository {
    const registryId = body.registryId ?? this.defaultRegistryId;
    const repo = this.repositories.get(`${registryId}/${body.repositoryName}`);
    if (!repo) {
      throw {
        type: "RepositoryNotFoundException",
        message: `The repository with name '${body.repositoryName}' does not exist in the registry with id '${registryId}'`,
      };
    }
    return repo;
  }

  private image(repo: FakeRepository, id: { imageDigest?: string; imageTag?: string }): FakeImage {
    const image = repo.images.find((i) => (id.imageDigest ? i.digest === id.imageDigest : i.tags.includes(id.imageTag ?? "")));
    if (!image) {
      throw { type: "ImageNotFoundException", message: `The image with imageId {imageDigest:'${id.imageDigest ?? "null"}', imageTag:'${id.imageTag ?? "null"}'} does not exist within the repository with name '${repo.name}'` };
    }
    return image;
  }

  private detail(repo: FakeRepository, i: FakeImage) {
    return {
      registryId: repo.registryId,
      repositoryName: repo.name,
      imageDigest: i.digest,
      ...(i.tags.length ? { imageTags: i.tags } : {}),
      imageSizeInBytes: 12345,
      imagePushedAt: seconds(i.pushedAt),
      imageScanStatus: i.scanStatus,
      imageManifestMediaType: i.mediaType,
    };
  }

  private describeImages(body: Record<string, any>) {
    const repo = this.repository(body);
    if (Array.isArray(body.imageIds) && body.imageIds.length) {
      return { imageDetails: body.imageIds.map((id: { imageDigest?: string; imageTag?: string }) => this.detail(repo, this.image(repo, id))) };
    }
    const offset = Number(body.nextToken ?? 0);
    const size = Math.min(this.imagesPageSize, body.maxResults ?? 100);
    const page = repo.images.slice(offset, offset + size);
    const next = offset + size < repo.images.length ? String(offset + size) : undefined;
    return { imageDetails: page.map((i) => this.detail(repo, i)), ...(next ? { nextToken: next } : {}) };
  }

  private describeImageScanFindings(body: Record<string, any>) {
    const repo = this.repository(body);
    const image = this.image(repo, body.imageId ?? {});
    if (image.scanStatus.status === "NONE") {
      throw { type: "ScanNotFoundException", message: `Image scan does not exist for image with '{imageDigest:'${image.digest}'}' in the repository with name '${repo.name}'` };
    }
    const base = {
      registryId: repo.registryId,
      repositoryName: repo.name,
      imageId: { imageDigest: image.digest, ...(body.imageId?.imageTag ? { imageTag: body.imageId.imageTag } : {}) },
      imageScanStatus: image.scanStatus,
    };
    if (!["COMPLETE", "ACTIVE"].includes(image.scanStatus.status)) return base;
    const enhanced = image.enhancedFindings !== undefined;
    const all = (enhanced ? image.enhancedFindings : image.findings) ?? [];
    const offset = Number(body.nextToken ?? 0);
    const size = Math.min(this.findingsPageSize, body.maxResults ?? 100);
    const page = all.slice(offset, offset + size);
    const next = offset + size < all.length ? String(offset + size) : undefined;
    const counts: Record<string, number> = {};
    for (const f of all) counts[String(f.severity)] = (counts[String(f.severity)] ?? 0) + 1;
    return {
      ...base,
      imageScanFindings: {
        imageScanCompletedAt: seconds(image.scanCompletedAt),
        vulnerabilitySourceUpdatedAt: seconds(new Date("2026-11-01T00:00:00Z")),
        findingSeverityCounts: counts,
        ...(enhanced ? { enhancedFindings: page } : { findings: page }),
      },
      ...(next ? { nextToken: next } : {}),
    };
  }

  private batchGetImage(body: Record<string, any>) {
    const repo = this.repository(body);
    const images = [];
    const failures = [];
    for (const id of body.imageIds ?? []) {
      const image = repo.images.find((i) => (id.imageDigest ? i.digest === id.imageDigest : i.tags.includes(id.imageTag)));
      if (!image) failures.push({ imageId: id, failureCode: "ImageNotFound", failureReason: "Requested image not found" });
      else if (Array.isArray(body.acceptedMediaTypes) && !body.acceptedMediaTypes.includes(image.mediaType))
        failures.push({ imageId: id, failureCode: "UnsupportedImageType", failureReason: "media type not accepted" });
      else
        images.push({
          registryId: repo.registryId,
          repositoryName: repo.name,
          imageId: { imageDigest: image.digest, ...(id.imageTag ? { imageTag: id.imageTag } : {}) },
          imageManifest: image.manifest,
          imageManifestMediaType: image.mediaType,
        });
    }
    return { images, failures };
  }

  private putImage(body: Record<string, any>) {
    const repo = this.repository(body);
    const digest = `sha256:${hash(String(body.imageManifest))}`;
    if (body.imageDigest && body.imageDigest !== digest) throw { type: "ImageDigestDoesNotMatchException", message: "digest does not match the manifest" };
    const image = repo.images.find((i) => i.digest === digest);
    if (!image) throw { type: "ImageNotFoundException", message: "layers of this manifest were never pushed (fake)" };
    if (body.imageManifestMediaType && body.imageManifestMediaType !== image.mediaType)
      throw { type: "InvalidParameterException", message: "media type differs from the manifest's" };
    const tag = String(body.imageTag);
    if (image.tags.includes(tag)) {
      throw { type: "ImageAlreadyExistsException", message: `Image with digest '${digest}' and tag '${tag}' already exists in the repository with name '${repo.name}'` };
    }
    const holder = repo.images.find((i) => i.tags.includes(tag));
    if (holder && repo.immutable) {
      throw { type: "ImageTagAlreadyExistsException", message: `The image tag '${tag}' already exists in the '${repo.name}' repository and cannot be overwritten because the repository is immutable.` };
    }
    if (holder) holder.tags = holder.tags.filter((t) => t !== tag);
    image.tags.push(tag);
    return { image: { registryId: repo.registryId, repositoryName: repo.name, imageId: { imageDigest: digest, imageTag: tag }, imageManifest: image.manifest, imageManifestMediaType: image.mediaType } };
  }
}

/** A basic-scanning finding as ECR returns it. */
export function basicFinding(n: number, severity: string, pkg = `pkg${n}`): Record<string, unknown> {
  return {
    name: `CVE-2026-${String(10000 + n)}`,
    description: `Issue ${n} in ${pkg}`,
    uri: `https://security-tracker.debian.org/tracker/CVE-2026-${String(10000 + n)}`,
    severity,
    attributes: [
      { key: "package_version", value: `1.${n}.0` },
      { key: "package_name", value: pkg },
      { key: "CVSS2_VECTOR", value: "AV:N/AC:L/Au:N/C:P/I:P/A:P" },
      { key: "CVSS2_SCORE", value: "7.5" },
    ],
  };
}

/** An enhanced (Inspector) finding as ECR returns it (epoch-second timestamps). */
export function enhancedFinding(
  id: string,
  severity: string,
  packages: Array<{ name: string; version: string; fixedInVersion?: string; packageManager?: string; release?: string; epoch?: number }>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    awsAccountId: "123456789012",
    description: `${id} description`,
    findingArn: `arn:aws:inspector2:eu-west-1:123456789012:finding/${hash(id).slice(0, 32)}`,
    firstObservedAt: 1761991200,
    lastObservedAt: 1761994800,
    packageVulnerabilityDetails: {
      cvss: [
        { baseScore: 9.8, scoringVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", source: "NVD", version: "3.1" },
        { baseScore: 7.5, scoringVector: "AV:N/AC:L/Au:N/C:P/I:P/A:P", source: "NVD", version: "2.0" },
      ],
      referenceUrls: [`https://nvd.nist.gov/vuln/detail/${id}`],
      source: "NVD",
      sourceUrl: `https://nvd.nist.gov/vuln/detail/${id}`,
      vendorCreatedAt: 1700000000,
      vendorSeverity: severity,
      vulnerabilityId: id,
      vulnerablePackages: packages.map((p) => ({ arch: "X86_64", epoch: p.epoch ?? 0, packageManager: p.packageManager ?? "OS", release: p.release, ...p })),
    },
    remediation: { recommendation: { text: "None Provided" } },
    resources: [{ id: "arn:aws:ecr:eu-west-1:123456789012:repository/team/app/sha256:abc", type: "AWS_ECR_CONTAINER_IMAGE" }],
    score: 9.8,
    scoreDetails: { cvss: { score: 9.8, scoreSource: "NVD", scoringVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", version: "3.1" } },
    severity,
    status: "ACTIVE",
    title: `${id} - ${packages.map((p) => p.name).join(", ")}`,
    type: "PACKAGE_VULNERABILITY",
    updatedAt: 1761994800,
    fixAvailable: packages.some((p) => p.fixedInVersion && p.fixedInVersion !== "NotAvailable") ? "YES" : "NO",
    ...extra,
  };
}
