/**
 * `npm run plan`: the stack's resources and outputs with no Pulumi CLI. The
 * command itself is spawned for the exit codes and output streams; the other
 * cases call `runPlan` in this process (same code, no second program load).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { FLEET_OUTPUT_NAMES } from "../../infra/contract";
import { REPO_ROOT } from "../../infra/bundle";
import { loadStackConfig, StackFileError } from "../../infra/mockRun";
import { formatPlan, planTree, runPlan } from "../../infra/plan";
import { OPERATOR_ADDRESS, runStack, withOperatorAddresses } from "../support/stack";

const TSX = path.join(REPO_ROOT, "node_modules", ".bin", "tsx");

function plan(...args: string[]) {
  const run = spawnSync(TSX, ["infra/plan.ts", ...args], { cwd: REPO_ROOT, encoding: "utf8", timeout: 60_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

async function planHere(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runPlan(args, (text) => out.push(text), (text) => err.push(text));
  return { code, stdout: out.join("\n"), stderr: err.join("\n") };
}

/** `--config` arguments that put the operator's address where a shipped stack file has a placeholder. */
function operatorConfig(stack: string): string[] {
  return Object.entries(withOperatorAddresses(stack)).flatMap(([key, value]) => ["--config", `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`]);
}

interface PlanNode {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  children: PlanNode[];
}

describe("npm run plan", () => {
  it("prints the aws-prod resource tree, nested under the fleet component, and the outputs", () => {
    const { code, stdout, stderr } = plan("--stack", "aws-prod", ...operatorConfig("aws-prod"));
    assert.equal(code, 0, stderr);
    const lines = stdout.split("\n");
    const fleet = lines.findIndex((line) => /^ {2}scrape-fleet:aws:Fleet {2}scrape-fleet-aws-prod$/.test(line));
    assert.ok(fleet >= 0, stdout);
    const fn = lines.find((line) => line.includes("aws:lambda/function:Function"));
    assert.match(fn ?? "", /^ {4}aws:lambda\/function:Function {2}scrape-fleet-aws-prod-worker {2}\(.*runtime=nodejs24\.x/);
    for (const name of FLEET_OUTPUT_NAMES) assert.match(stdout, new RegExp(`^ {2}${name}: \\S+`, "m"));
  });

  it("--json prints the same tree and outputs as JSON", async () => {
    const { code, stdout } = await planHere("--stack", "dev", "--json", ...operatorConfig("dev"));
    assert.equal(code, 0);
    const parsed = JSON.parse(stdout) as { stack: string; resources: PlanNode[]; outputs: Record<string, string> };
    assert.equal(parsed.stack, "dev");
    assert.deepEqual(Object.keys(parsed.outputs).sort(), [...FLEET_OUTPUT_NAMES].sort());
    assert.equal(parsed.resources.length, 1);
    const [fleet] = parsed.resources;
    assert.equal(fleet.type, "scrape-fleet:aws:Fleet");
    const queue = fleet.children.find((child) => child.name.endsWith("-work"));
    assert.equal(queue?.inputs.visibilityTimeoutSeconds, 360);
  });

  it("never prints a secret input: the webhook URL shows as [secret], the e-mail address in full", async () => {
    const result = await runStack("dev", { configOverrides: { "scrape-fleet:alertWebhookUrl": { secret: "https://hooks.example.com/token-123" } } });
    for (const printed of [formatPlan(result), JSON.stringify(planTree(result))]) {
      assert.doesNotMatch(printed, /token-123/);
      assert.match(printed, /protocol=https, endpoint=\[secret\]|"protocol":"https","endpoint":"\[secret\]"/);
      assert.ok(printed.includes(OPERATOR_ADDRESS));
    }
  });

  it("a shipped stack file still holding ops@example.com is refused as pulumi up refuses it: both placeholders named with their fix", async () => {
    const { code, stdout, stderr } = await planHere("--stack", "aws-prod");
    assert.equal(code, 1);
    assert.equal(stdout, "");
    assert.match(stderr, /`scrape-fleet:alertEmail` is a placeholder: example\.com is reserved for examples \(RFC 2606\).*\(given "ops@example\.com"\); pulumi config set scrape-fleet:alertEmail/);
    assert.match(stderr, /`scrape-fleet:settings\.contact` is a placeholder.*pulumi config set --path scrape-fleet:settings\.contact/);
  });

  it("an unknown stack exits non-zero, naming the stack files there are", () => {
    const { code, stdout, stderr } = plan("--stack", "no-such-stack");
    assert.equal(code, 1);
    assert.equal(stdout, "");
    assert.match(stderr, /Pulumi\.no-such-stack\.yaml/);
    assert.match(stderr, /aws-prod/);
    assert.match(stderr, /\bdev\b/);
    assert.doesNotMatch(stderr, /\n\s+at /, "no stack trace");
  });

  it("a config error exits 1 with the key, value and fix, and no stack trace", async () => {
    const { code, stderr } = await planHere("--stack", "dev", "--config", "scrape-fleet:maxWorkers=1");
    assert.equal(code, 1);
    assert.match(stderr, /`scrape-fleet:maxWorkers`.*\(given 1\).*pulumi config set scrape-fleet:maxWorkers 2/);
    assert.doesNotMatch(stderr, /\n\s+at /);
  });

  it("--help prints the usage line and exits 0", async () => {
    const { code, stdout } = await planHere("--help");
    assert.equal(code, 0);
    assert.match(stdout, /usage: npm run plan -- --stack NAME/);
  });

  it("a stack file that is not valid YAML is refused with its name and the line, not a stack trace", () => {
    const root = mkdtempSync(path.join(tmpdir(), "plan-yaml-"));
    copyFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), path.join(root, "Pulumi.yaml"));
    writeFileSync(path.join(root, "Pulumi.broken.yaml"), "config:\n  scrape-fleet:cloud: aws\n  scrape-fleet:tags: [a, b\n");
    assert.throws(() => loadStackConfig("broken", root), (error: unknown) => error instanceof StackFileError && /Pulumi\.broken\.yaml is not valid YAML: .*line/.test(error.message));
  });

  it("a usage error exits 2 with the usage line", async () => {
    for (const args of [[], ["--stack"], ["--stack", "dev", "--frobnicate"], ["--stack", "dev", "--config", "maxWorkers"]]) {
      const { code, stderr } = await planHere(...args);
      assert.equal(code, 2, args.join(" "));
      assert.match(stderr, /usage: npm run plan -- --stack NAME/);
    }
  });
});
