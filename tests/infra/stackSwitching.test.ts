/**
 * Stacks and clouds: a stack loads only its own cloud's provider, a deployed
 * stack cannot silently move to another cloud, and a stack file the suite has
 * never seen builds the same fleet. All under Pulumi mocks; child processes
 * only where the point is a fresh process.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { CAPABILITIES, checkCapability } from "../../infra/capabilities";
import { AWS_MOCK_STATE } from "../../infra/aws/mockState";
import { AZURE_MOCK_STATE } from "../../infra/azure/mockState";
import { REPO_ROOT } from "../../infra/bundle";
import { PROJECT } from "../../infra/config";
import { CLOUDS, FLEET_OUTPUT_NAMES, type Cloud } from "../../infra/contract";
import { GCP_MOCK_STATE } from "../../infra/gcp/mockState";
import { MOCK_ORGANIZATION, mockRun, type MockStateFunction } from "../../infra/mockRun";
import { CloudChangeError, previousCloud, STACK_OUTPUT_NAMES, stackOutputs } from "../../infra/program";
import { planEvidence } from "../parity/evidence";
import { runStack, withOperatorAddresses } from "../support/stack";

/** The provider packages (`@pulumi/<name>`) a cloud's program may load. */
const PROVIDER_PACKAGES: Readonly<Record<Cloud, string>> = { aws: "aws", azure: "azure-native", gcp: "gcp" };
const PROD_STACKS: Readonly<Record<Cloud, string>> = { aws: "aws-prod", azure: "azure-prod", gcp: "gcp-prod" };

/**
 * Runs the program for `stack` under mocks in a new Node.js process (with
 * tsx's CommonJS loader, as mocha runs) and reports which `@pulumi/*`
 * packages ended up in `require.cache`.
 */
const CHILD_PROGRAM = `
const { mockRun } = require(${JSON.stringify(path.join(REPO_ROOT, "infra", "mockRun.ts"))});
const { withOperatorAddresses } = require(${JSON.stringify(path.join(REPO_ROOT, "tests", "support", "stack.ts"))});
mockRun({ stack: process.argv[1], configOverrides: withOperatorAddresses(process.argv[1]) }).then((result) => {
  const packages = new Set();
  for (const file of Object.keys(require.cache)) {
    const match = /node_modules[\\\\/]@pulumi[\\\\/]([^\\\\/]+)[\\\\/]/.exec(file);
    if (match) packages.add(match[1]);
  }
  process.stdout.write(JSON.stringify({ packages: [...packages].sort(), resources: result.resources.length }));
});
`;

function loadedPackages(stack: string): Promise<{ packages: string[]; resources: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--require", "tsx/cjs", "--eval", CHILD_PROGRAM, stack], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`the ${stack} run exited ${code}: ${stderr}`));
      else resolve(JSON.parse(stdout) as { packages: string[]; resources: number });
    });
  });
}

describe("a stack loads only its own cloud's provider (fresh process per stack)", () => {
  const runs = new Map<Cloud, { packages: string[]; resources: number }>();

  before(async function () {
    // Three cold starts at once: each loads tsx, the Pulumi SDK, one provider and bundles one worker.
    this.timeout(90_000);
    await Promise.all(CLOUDS.map(async (cloud) => runs.set(cloud, await loadedPackages(PROD_STACKS[cloud]))));
  });

  for (const cloud of CLOUDS) {
    const others = CLOUDS.filter((other) => other !== cloud).map((other) => `@pulumi/${PROVIDER_PACKAGES[other]}`);
    it(`${PROD_STACKS[cloud]} registers its fleet without loading ${others.join(" or ")}`, () => {
      const run = runs.get(cloud) ?? assert.fail(`no run for ${cloud}`);
      assert.ok(run.resources > 10, `${run.resources} resources`);
      assert.ok(run.packages.includes(PROVIDER_PACKAGES[cloud]), `@pulumi/${PROVIDER_PACKAGES[cloud]} was not loaded: ${run.packages.join(", ")}`);
      const providers = run.packages.filter((name) => Object.values(PROVIDER_PACKAGES).includes(name));
      assert.deepEqual(providers, [PROVIDER_PACKAGES[cloud]]);
    });
  }
});

describe("changing scrape-fleet:cloud on a deployed stack (under Pulumi mocks)", () => {
  /** What the stack reference to the stack itself reads: its last update's outputs. */
  const previousOutputs = (stack: string, outputs: Record<string, unknown>) => ({ [`${MOCK_ORGANIZATION}/${PROJECT}/${stack}`]: outputs });

  /** Mock state that records every cloud resource the program declares. */
  function recordingState(registered: string[]): Record<string, MockStateFunction> {
    return Object.fromEntries(
      Object.entries({ ...AWS_MOCK_STATE, ...AZURE_MOCK_STATE, ...GCP_MOCK_STATE }).map(([type, state]): [string, MockStateFunction] => [type, (resource, env) => (registered.push(type), state(resource, env))]),
    );
  }

  it("an aws stack whose config now says azure is refused before any resource is declared, naming the key, both clouds and the fixes", async () => {
    const registered: string[] = [];
    await assert.rejects(
      mockRun({
        stack: "aws-prod",
        configOverrides: withOperatorAddresses("aws-prod", { "scrape-fleet:cloud": "azure", "azure-native:location": "westeurope", "scrape-fleet:namePrefix": "sf-aws-prod" }),
        stackOutputs: previousOutputs("aws-prod", { cloud: "aws", workQueueId: "arn:aws:sqs:us-west-2:123456789012:scrape-fleet-aws-prod-work" }),
        mockState: recordingState(registered),
      }),
      (error: unknown) => {
        assert.ok(error instanceof CloudChangeError, String(error));
        assert.equal(error.code, "cloud_change_refused");
        assert.deepEqual([error.stackName, error.previous, error.requested], ["aws-prod", "aws", "azure"]);
        assert.match(error.message, /`scrape-fleet:cloud` changed from aws to azure \(given "azure"\) on stack "aws-prod"/);
        assert.match(error.message, /delete every aws resource/);
        assert.match(error.message, /`pulumi config set scrape-fleet:cloud aws`\) and create another stack beside it: copy Pulumi\.aws-prod\.yaml .* `pulumi stack init <new-stack>`/);
        assert.match(error.message, /`pulumi destroy` first/);
        assert.match(error.message, /`pulumi config set scrape-fleet:allowCloudChange true`, `pulumi up`, then `pulumi config rm scrape-fleet:allowCloudChange`/);
        return true;
      },
    );
    assert.deepEqual(registered, [], "no resource of any cloud is declared");
  });

  it("a stack's first update (no outputs yet) goes ahead", async () => {
    const result = await runStack("azure-prod");
    assert.ok(result.resources.some((resource) => resource.type === "azure-native:servicebus:Queue"));
  });

  it("an update on the same cloud goes ahead, and the stack exports `cloud` for the next update's check", async () => {
    const result = await mockRun({ stack: "dev", configOverrides: withOperatorAddresses("dev"), program: stackOutputs, stackOutputs: previousOutputs("dev", { cloud: "aws" }) });
    assert.deepEqual(Object.keys(result.outputs).sort(), [...STACK_OUTPUT_NAMES].sort());
    assert.equal(result.outputs.cloud, "aws");
  });

  it("with scrape-fleet:allowCloudChange=true the change goes ahead for that update, with a warning to remove the key", async () => {
    // With no engine (mocks), `pulumi.log.warn` writes to console.warn.
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => void warnings.push(args.join(" "));
    try {
      const result = await mockRun({
        stack: "azure-prod",
        configOverrides: withOperatorAddresses("azure-prod", { "scrape-fleet:allowCloudChange": "true" }),
        stackOutputs: previousOutputs("azure-prod", { cloud: "aws" }),
      });
      assert.ok(result.resources.some((resource) => resource.type === "azure-native:servicebus:Queue"));
    } finally {
      console.warn = warn;
    }
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(warnings[0], /changed from aws to azure .* deletes the aws fleet .* pulumi config rm scrape-fleet:allowCloudChange/);
  });

  it("a stack deployed before the `cloud` output existed is recognised by its workQueueId", () => {
    assert.equal(previousCloud({ workQueueId: "arn:aws:sqs:eu-west-1:123456789012:q" }), "aws");
    assert.equal(previousCloud({ workQueueId: "arn:aws-cn:sqs:cn-north-1:123456789012:q" }), "aws");
    assert.equal(previousCloud({ workQueueId: "/subscriptions/0/resourceGroups/rg/providers/Microsoft.ServiceBus/namespaces/ns/queues/work" }), "azure");
    assert.equal(previousCloud({ workQueueId: "projects/p/topics/work" }), "gcp");
    assert.equal(previousCloud({ cloud: "gcp", workQueueId: "arn:aws:sqs:eu-west-1:123456789012:q" }), "gcp", "the cloud output wins");
    assert.equal(previousCloud({}), undefined, "no previous fleet");
    assert.equal(previousCloud({ cloud: "mars", workQueueId: 42 }), undefined);
  });
});

describe("a stack file the suite did not know about (Pulumi.aws-eu.yaml, copied from aws-prod)", () => {
  let rootDir: string;
  const region = "eu-central-1";

  before(() => {
    rootDir = mkdtempSync(path.join(tmpdir(), "scrape-fleet-stack-"));
    copyFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), path.join(rootDir, "Pulumi.yaml"));
    const prod = readFileSync(path.join(REPO_ROOT, "Pulumi.aws-prod.yaml"), "utf8");
    assert.match(prod, /^ {2}aws:region: \S+$/m);
    writeFileSync(path.join(rootDir, "Pulumi.aws-eu.yaml"), prod.replace(/^ {2}aws:region: \S+$/m, `  aws:region: ${region}`));
  });

  after(() => rmSync(rootDir, { recursive: true, force: true }));

  it("builds the fleet in that region, under the stack's own names, with the same outputs and every capability of the parity table", async () => {
    const result = await mockRun({ stack: "aws-eu", rootDir, configOverrides: withOperatorAddresses("aws-eu", {}, rootDir) });
    assert.deepEqual(Object.keys(result.outputs).sort(), [...FLEET_OUTPUT_NAMES].sort());
    assert.equal(result.outputs.workQueueUrl, `https://sqs.${region}.amazonaws.com/123456789012/scrape-fleet-aws-eu-work`);
    assert.match(result.outputs.dashboardUrl, new RegExp(`region=${region}#`));
    assert.equal(result.outputs.workerName, "scrape-fleet-aws-eu-worker");
    const arns = result.resources.flatMap((resource) => (typeof resource.outputs.arn === "string" && /^arn:aws:(sqs|lambda|sns|ssm):/.test(resource.outputs.arn) ? [resource.outputs.arn] : []));
    assert.ok(arns.length >= 4, arns.join(", "));
    for (const arn of arns) assert.equal(arn.split(":")[3], region, arn);
    const evidence = planEvidence(result, { rootDir });
    for (const capability of CAPABILITIES) checkCapability(capability, evidence);
  });
});
