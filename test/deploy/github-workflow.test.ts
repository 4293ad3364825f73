/**
 * .github/workflows/scan-and-upload.yml is an example for users (this project's CI is .ci/run). It is checked by
 * reading it: valid YAML, inert in this repository, and the chain build → pushed digest → Trivy on that digest →
 * upload keyed by that digest, failing the job on a non-compliant image.
 */
import fs from "node:fs";
import path from "node:path";
import { parse } from "yaml";

const FILE = path.resolve(__dirname, "../../.github/workflows/scan-and-upload.yml");
const text = fs.readFileSync(FILE, "utf8");
const workflow = parse(text);
const job = workflow.jobs["build-scan-upload"];
type Step = { id?: string; name?: string; uses?: string; run?: string; with?: Record<string, string>; env?: Record<string, string> };
const steps = job.steps as Step[];
const using = (action: string): Step => {
  const found = steps.filter((s) => s.uses?.startsWith(`${action}@`));
  expect(found).toHaveLength(1);
  return found[0]!;
};

test("when the file is read, then it says it is an example and runs only where ECR_REPOSITORY is configured", () => {
  expect(text.split("\n")[0]).toMatch(/^# EXAMPLE FOR USERS/);
  expect(text).toContain(".ci/run");
  expect(job.if).toContain("vars.ECR_REPOSITORY != ''");
  expect(workflow.permissions).toMatchObject({ "id-token": "write", contents: "read" });
});

test("when it runs, then it logs in to ECR, builds and pushes, and takes the digest the push reported", () => {
  expect(using("aws-actions/configure-aws-credentials").with).toMatchObject({ "aws-region": expect.any(String), "role-to-assume": expect.any(String) });
  const login = using("aws-actions/amazon-ecr-login");
  const build = using("docker/build-push-action");
  expect(build.with!.push).toBe(true);
  expect(build.with!.tags).toContain(`steps.${login.id}.outputs.registry`);
  const digestStep = steps.find((s) => s.id === "image")!;
  expect(digestStep.env!.DIGEST).toBe(`\${{ steps.${build.id}.outputs.digest }}`);
  expect(digestStep.run).toContain('echo "digest=$DIGEST" >> "$GITHUB_OUTPUT"');
  expect(steps.indexOf(digestStep)).toBeGreaterThan(steps.indexOf(build));
});

test("when Trivy scans, then it scans the pushed digest into a JSON report and leaves the verdict to scan-registry", () => {
  const trivy = using("aquasecurity/trivy-action");
  expect(trivy.with).toMatchObject({ format: "json", output: "report.json", "exit-code": "0" });
  expect(trivy.with!["image-ref"]).toBe("${{ steps.image.outputs.pinned }}");
  expect(steps.find((s) => s.id === "image")!.run).toMatch(/pinned=.*@\$DIGEST/);
});

test("when the report is uploaded, then the upload is keyed by the digest, uses the SCAN_REGISTRY_* secrets and fails the job unless compliant", () => {
  const upload = steps.find((s) => s.run?.includes("scan-registry upload"))!;
  expect(upload.run).toContain("upload report.json");
  expect(upload.run).toContain('--digest "$DIGEST"');
  expect(upload.env).toMatchObject({
    DIGEST: "${{ steps.image.outputs.digest }}",
    SCAN_REGISTRY_URL: "${{ secrets.SCAN_REGISTRY_URL }}",
    SCAN_REGISTRY_TOKEN: "${{ secrets.SCAN_REGISTRY_TOKEN }}",
  });
  // No continue-on-error and no `|| true`: the CLI's exit 1 (non-compliant) fails the job.
  expect(upload).not.toHaveProperty("continue-on-error");
  expect(upload.run).not.toMatch(/\|\|\s*true/);
  expect(steps.indexOf(upload)).toBeGreaterThan(steps.indexOf(using("aquasecurity/trivy-action")));
});
