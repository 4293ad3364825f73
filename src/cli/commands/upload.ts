import fs from "node:fs";
import { pipeline, Readable, Transform } from "node:stream";
import { gzipSync, createGzip } from "node:zlib";
import type { Command } from "commander";
import { callApi, clientOptions, CliError, EXIT, output, withConnectionOptions } from "../client";
import { verdictLines, type ReasonAnswer } from "./check";

interface UploadAnswer {
  report_id: string;
  duplicate: boolean;
  format: string;
  images: Array<{ image_digest: string; repository: string | null; tags: string[]; is_compliant: boolean; status: string; reasons: ReasonAnswer[] }>;
  /** Digests linked and judged by this upload (a duplicate's new ones); absent from services older than the field. */
  newly_linked?: string[];
  summary: Record<string, number>;
}

interface UploadFlags {
  digest?: string[];
  image?: string;
  format?: string;
  source?: string;
  progress?: boolean;
  json?: boolean;
  url?: string;
  token?: string;
}

/**
 * Reports larger than this are always streamed rather than read whole and compressed in memory first, and show
 * progress unless --no-progress.
 */
const LARGE_REPORT = 5 * 1024 * 1024;

/** The CI system running the upload, recorded as the report's source unless --source says otherwise. */
function detectSource(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.GITHUB_ACTIONS) return "github-actions";
  if (env.GITLAB_CI) return "gitlab-ci";
  if (env.JENKINS_URL) return "jenkins";
  if (env.CIRCLECI) return "circleci";
  if (env.TF_BUILD) return "azure-pipelines";
  if (env.BUILDKITE) return "buildkite";
  return undefined;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** Counts the report's bytes as they are read towards the gzip stream and reports them on stderr. */
function progressMeter(total: number, name: string): Transform {
  const tty = process.stderr.isTTY === true;
  let sent = 0;
  let shownStep = -1;
  const show = (final: boolean) => {
    const percent = total > 0 ? Math.floor((sent / total) * 100) : 100;
    if (tty) process.stderr.write(`\ruploading ${name}: ${mb(sent)} of ${mb(total)} (${percent}%)${final ? "\n" : ""}`);
    else if (Math.floor(percent / 10) > shownStep || final) {
      shownStep = Math.floor(percent / 10);
      process.stderr.write(`uploading ${name}: ${mb(sent)} of ${mb(total)} (${percent}%)\n`);
    }
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      sent += chunk.length;
      show(false);
      callback(null, chunk);
    },
    flush(callback) {
      show(true);
      callback();
    },
  });
}

const cannotRead = (file: string, error: unknown) =>
  new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);

function openReport(file: string): { size: number } {
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) throw new CliError(`${file} is not a file`);
    return { size: stat.size };
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw cannotRead(file, error);
  }
}

/**
 * The report gzip-compressed as a stream, through the progress meter when shown. stream.pipeline handles every stage's
 * error and destroys the others, so a read error (the file vanished or became unreadable after the stat) errors the
 * request body and the upload fails with exit 2; with .pipe() the read stream's error went unhandled and crashed the
 * process with exit 1, which CI reads as "not compliant". `source` tells whether it was the file that failed.
 */
function streamReport(file: string, size: number, showProgress: boolean): { body: ReadableStream<Uint8Array>; source: fs.ReadStream } {
  const source = fs.createReadStream(file);
  const gzip = createGzip();
  const stages: NodeJS.ReadWriteStream[] = showProgress ? [progressMeter(size, file), gzip] : [gzip];
  pipeline([source, ...stages], () => {
    /* errors reach the request through the destroyed gzip stream; the caller asks `source` which one failed */
  });
  return { body: Readable.toWeb(gzip) as ReadableStream<Uint8Array>, source };
}

function readReport(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    throw cannotRead(file, error);
  }
}

function summaryLine(summary: Record<string, number>): string {
  const s = (k: string) => summary[k] ?? 0;
  return `findings: critical ${s("critical")}, high ${s("high")}, medium ${s("medium")}, low ${s("low")}, unknown ${s("unknown")}; fixable ${s("fixable")}; secrets ${s("secrets")}; misconfigurations ${s("misconfigurations")}`;
}

/** What a duplicate upload did: nothing, or link the stored report to digests it did not name before and judge them. */
function duplicateNote(linked: string[] | undefined): string {
  if (!linked || linked.length === 0) return ": already uploaded, nothing new stored";
  return `: already uploaded; linked to ${linked.length} new digest${linked.length === 1 ? "" : "s"} (${linked.join(", ")}) and judged`;
}

/** `scan-registry upload <report.json>`: the CI step. Exit 0 when every image is compliant, 1 when any is not, 2 on any error. */
export function register(program: Command): void {
  withConnectionOptions(
    program
      .command("upload <report>")
      .description("upload a scan report (gzip-compressed on the way) and print each image's verdict (exit 0 compliant, 1 not compliant, 2 error)")
      .option("--digest <digest>", "image manifest digest the report describes (repeatable; added to the digests the report names)", (v: string, all: string[] = []) => [...all, v])
      .option("--image <ref>", "image reference, e.g. registry/repo:tag or repo@sha256:…")
      .option("--format <format>", "trivy, sarif, cyclonedx or trivy-operator (default: detected)")
      .option("--source <source>", "where the report comes from (default: the CI system detected, e.g. github-actions)")
      .option("--no-progress", "never print upload progress")
      .option("--json", "print the API answer as JSON")
      .addHelpText(
        "after",
        `
Progress (bytes sent) is printed on stderr when stderr is a terminal or the report is larger than 5 MB, unless
--no-progress. Reports larger than 5 MB are streamed, never read whole into memory.

Examples:
  trivy image --format json --output report.json registry.example.com/team/app:1.4.2
  scan-registry upload report.json --image registry.example.com/team/app:1.4.2 --digest "$(crane digest registry.example.com/team/app:1.4.2)"
  SCAN_REGISTRY_URL=https://scan-registry.example.com SCAN_REGISTRY_TOKEN=sr_… scan-registry upload report.json`,
      ),
  ).action(async (file: string, opts: UploadFlags) => {
    const client = clientOptions(opts);
    const { size } = openReport(file);
    const query = new URLSearchParams();
    for (const digest of opts.digest ?? []) query.append("digest", digest);
    if (opts.image) query.set("image", opts.image);
    if (opts.format) query.set("format", opts.format);
    const source = opts.source ?? detectSource();
    if (source) query.set("source", source);

    const showProgress = opts.progress !== false && (process.stderr.isTTY === true || size > LARGE_REPORT);
    // Small reports without progress are compressed in memory and sent with a Content-Length; large ones, and any
    // whose progress is shown, are streamed.
    const streamed = showProgress || size > LARGE_REPORT ? streamReport(file, size, showProgress) : undefined;
    const body = streamed ? streamed.body : gzipSync(readReport(file));
    const qs = query.toString();
    let answer: UploadAnswer;
    try {
      ({ body: answer } = await callApi<UploadAnswer>(client, "POST", `/v1/reports${qs ? `?${qs}` : ""}`, body, {
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
      }, { flags: { digest: "--digest", image: "--image", format: "--format", source: "--source" } }));
    } catch (error) {
      // The request failed because the file could not be read: say so, not "cannot reach".
      if (streamed?.source.errored) throw cannotRead(file, streamed.source.errored);
      throw error;
    } finally {
      // An answer that came before the whole body was read (a refusal) leaves nothing reading the file.
      streamed?.source.destroy();
    }

    output(opts, answer, () =>
      [
        `report ${answer.report_id} (${answer.format})${answer.duplicate ? duplicateNote(answer.newly_linked) : ""}`,
        summaryLine(answer.summary),
        ...answer.images.flatMap((image) => verdictLines(image, [image.image_digest, image.repository ?? "", image.tags.length ? `[${image.tags.join(", ")}]` : ""].filter(Boolean).join(" "))),
      ].join("\n"),
    );
    const refused = answer.images.filter((i) => !i.is_compliant);
    if (refused.length > 0)
      throw new CliError(`${refused.length} of ${answer.images.length} image${answer.images.length === 1 ? "" : "s"} may not run`, EXIT.nonCompliant);
  });
}
