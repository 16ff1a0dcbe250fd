/**
 * Stack config validation: bad input is refused up front, and every error
 * names the key, the value given and the command that fixes it.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { formatIssue, SettingsError, type SettingIssue } from "../../shared/errors";
import { DEFAULT_SETTINGS } from "../../shared/settings";
import { checkFleetConfig, INTEGER_KEYS, isPlaceholderAddress, toBoolean, toInteger, toNumber, toObject, unknownKeyIssues, validateFleetConfig, validOrThrow, type RawConfig } from "../../infra/config";
import { AWS_KEYS, minimumVisibilityTimeout, settingsParameterTier, settingsParameterValue, validateAwsConfig, type RawAwsConfig } from "../../infra/aws/config";
import { AWS_MOCK_STATE } from "../../infra/aws/mockState";
import { AZURE_MOCK_STATE } from "../../infra/azure/mockState";
import { GCP_MOCK_STATE } from "../../infra/gcp/mockState";
import { availableStacks, mockRun, type ConfigOverride, type MockStateFunction } from "../../infra/mockRun";
import { REPO_ROOT } from "../../infra/bundle";
import { resourceName } from "../../infra/naming";
import { fleetTags, gcpLabels } from "../../infra/tags";
import { runStack, stackConfig, withOperatorAddresses } from "../support/stack";

const VALID: RawConfig = { cloud: "aws", alertEmail: "ops@example.com" };

/** The one issue `fn` throws, checked to name the key, the value and a fix. */
function issueOf(fn: () => unknown, key: string): SettingIssue {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof SettingsError, `expected a SettingsError, got ${String(caught)}`);
  const issue = caught.issues.find((candidate) => candidate.key === key);
  assert.ok(issue, `no issue for ${key} in: ${caught.message}`);
  assert.ok(caught.message.includes(`\`${key}\``), "the message names the key");
  assert.ok(caught.message.includes(issue.fix), "the message gives the fix");
  return issue;
}

/** Mock state that records every cloud resource the program declares. */
function recordingState(registered: string[]): Record<string, MockStateFunction> {
  return Object.fromEntries(
    Object.entries({ ...AWS_MOCK_STATE, ...AZURE_MOCK_STATE, ...GCP_MOCK_STATE }).map(([type, state]): [string, MockStateFunction] => [type, (resource, env) => (registered.push(type), state(resource, env))]),
  );
}

const fleetArgs = (raw: RawConfig = {}) => validateFleetConfig({ ...VALID, ...raw }, "test").args;
/** The AWS config (in a region unless `raw` says otherwise), or the `SettingsError` `createFleet` would throw. */
const awsConfig = (raw: RawAwsConfig, fleet = fleetArgs()) => validOrThrow(validateAwsConfig({ region: "us-west-2", ...raw }, fleet), "stack config (AWS)");

describe("stack config validation", () => {
  it("a stack with no alertEmail is refused with the command that sets it", () => {
    const issue = issueOf(() => validateFleetConfig({ cloud: "aws" }, "prod"), "scrape-fleet:alertEmail");
    assert.equal(issue.value, undefined);
    assert.match(issue.fix, /pulumi config set scrape-fleet:alertEmail \S+@\S+/);
  });

  it("an alertEmail that is not an address is refused, quoting it", () => {
    const issue = issueOf(() => validateFleetConfig({ cloud: "aws", alertEmail: "ops-at-example" }, "prod"), "scrape-fleet:alertEmail");
    assert.equal(issue.value, "ops-at-example");
  });

  it("an unknown cloud is refused, naming the three valid ones", () => {
    const issue = issueOf(() => validateFleetConfig({ ...VALID, cloud: "oracle" }, "prod"), "scrape-fleet:cloud");
    assert.equal(issue.value, "oracle");
    for (const cloud of ["aws", "azure", "gcp"]) assert.ok(issue.problem.includes(cloud), cloud);
    assert.match(issue.fix, /pulumi config set scrape-fleet:cloud aws/);
  });

  it("an unknown runtime setting is refused with its path, value and the command that removes it", () => {
    const issue = issueOf(() => validateFleetConfig({ ...VALID, settings: JSON.stringify({ concurency: 4 }) }, "prod"), "scrape-fleet:settings.concurency");
    assert.equal(issue.value, 4);
    assert.match(issue.fix, /pulumi config rm --path scrape-fleet:settings\.concurency/);
    assert.match(issue.fix, /concurrency/);
  });

  it("a runtime setting out of range is refused with its range", () => {
    const issue = issueOf(() => validateFleetConfig({ ...VALID, settings: { concurrency: 0 } }, "prod"), "scrape-fleet:settings.concurrency");
    assert.equal(issue.value, 0);
    assert.match(issue.problem, /1 to 256/);
  });

  it("every bad key is reported in one error", () => {
    assert.throws(
      () => validateFleetConfig({ cloud: "aws", maxWorkers: "0", pushSettings: "yes", alarms: { backlogMessages: -1, bogus: 1 }, tags: { team: 5 } }, "prod"),
      (error: unknown) =>
        error instanceof SettingsError &&
        ["scrape-fleet:alertEmail", "scrape-fleet:maxWorkers", "scrape-fleet:pushSettings", "scrape-fleet:alarms.backlogMessages", "scrape-fleet:alarms.bogus", "scrape-fleet:tags.team"].every((key) => error.issues.some((issue) => issue.key === key)),
    );
  });

  it("pushSettings takes true or false; another value is refused with the command that sets it", () => {
    assert.equal(fleetArgs({ pushSettings: "true" }).pushSettings, true);
    assert.equal(fleetArgs({ pushSettings: false }).pushSettings, false);
    const issue = issueOf(() => validateFleetConfig({ ...VALID, pushSettings: "yes" }, "prod"), "scrape-fleet:pushSettings");
    assert.equal(issue.value, "yes");
    assert.match(issue.fix, /pulumi config set scrape-fleet:pushSettings true/);
  });

  it("the webhook URL is a secret: a bad one is refused without echoing it", () => {
    let message = "";
    try {
      validateFleetConfig({ ...VALID, alertWebhookUrl: "http://hooks.example.com/token-123" }, "prod");
    } catch (error) {
      assert.ok(error instanceof SettingsError);
      message = error.message;
    }
    assert.match(message, /scrape-fleet:alertWebhookUrl/);
    assert.match(message, /pulumi config set --secret scrape-fleet:alertWebhookUrl/);
    assert.doesNotMatch(message, /token-123/);
  });

  it("defaults apply to every key a stack leaves out, and the stack's tags merge over the fleet's", () => {
    const { cloud, args } = validateFleetConfig({ ...VALID, tags: JSON.stringify({ team: "crawl" }) }, "Prod_EU");
    assert.equal(cloud, "aws");
    assert.equal(args.namePrefix, "scrape-fleet-prod-eu");
    assert.equal(args.maxDeliveryAttempts, 5);
    assert.equal(args.functionTimeoutSeconds, 120);
    assert.equal(args.maxWorkers, 10);
    assert.equal(args.messagesPerWorker, 10);
    assert.deepEqual(args.alarms, { backlogMessages: 1000, oldestMessageAgeSeconds: 900, errorRatePercent: 5, retryRatePercent: 25, stalledMinutes: 15 });
    assert.deepEqual(args.settings, DEFAULT_SETTINGS);
    assert.equal(args.pushSettings, false);
    assert.deepEqual(args.tags, { app: "scrape-fleet", stack: "Prod_EU", "managed-by": "pulumi", team: "crawl" });
  });

  it("config values are read from the CLI's text or given parsed, and anything else is refused", () => {
    assert.deepEqual([toInteger("120"), toInteger(" -5 "), toInteger(120)], [120, -5, 120]);
    for (const value of ["1.5", 1.5, "12s", "", true]) assert.equal(toInteger(value), undefined, JSON.stringify(value));
    assert.deepEqual([toNumber("0.5"), toNumber("-1"), toNumber(2)], [0.5, -1, 2]);
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, "1e3", "0x10"]) assert.equal(toNumber(value), undefined, String(value));
    assert.deepEqual([toBoolean("true"), toBoolean("false"), toBoolean(true)], [true, false, true]);
    for (const value of ["yes", "True", 1]) assert.equal(toBoolean(value), undefined, JSON.stringify(value));
    assert.deepEqual([toObject('{"team":"crawl"}'), toObject({ team: "crawl" })], [{ team: "crawl" }, { team: "crawl" }]);
    for (const value of ["[1]", "{", "null", 5]) assert.equal(toObject(value), undefined, JSON.stringify(value));
  });

  it("Pulumi.yaml declares the same defaults the program applies", () => {
    const project = parseYaml(readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8")) as { name: string; config: Record<string, { type: string; default?: unknown }> };
    assert.equal(project.name, "scrape-fleet");
    for (const [key, spec] of Object.entries(INTEGER_KEYS)) {
      assert.equal(project.config[key]?.type, "integer", key);
      assert.equal(project.config[key]?.default, spec.default, key);
    }
    for (const required of ["cloud", "alertEmail"]) assert.equal(project.config[required]?.default, undefined, `${required} has no default: the CLI requires it`);
  });
});

describe("AWS stack config validation", () => {
  it("a batch size above 10 with no batching window is refused with the fix", () => {
    const issue = issueOf(() => awsConfig({}, fleetArgs({ messagesPerWorker: "20", settings: { concurrency: 20 } })), "scrape-fleet:batchWindowSeconds");
    assert.equal(issue.value, 0);
    assert.match(issue.fix, /pulumi config set scrape-fleet:batchWindowSeconds 1/);
    assert.equal(awsConfig({ batchWindowSeconds: "1" }, fleetArgs({ messagesPerWorker: "20", settings: { concurrency: 20 } })).batchWindowSeconds, 1);
  });

  it("a visibility timeout set by hand below 6x the function timeout is refused", () => {
    const issue = issueOf(() => awsConfig({ visibilityTimeoutSeconds: "300" }, fleetArgs({ functionTimeoutSeconds: "120" })), "scrape-fleet:visibilityTimeoutSeconds");
    assert.equal(issue.value, "300");
    assert.match(issue.problem, /720/);
    assert.match(issue.fix, /pulumi config rm scrape-fleet:visibilityTimeoutSeconds/);
  });

  it("the visibility timeout is derived from the function timeout and the batching window", () => {
    assert.equal(minimumVisibilityTimeout(120, 5), 725);
    assert.equal(awsConfig({ batchWindowSeconds: "5" }, fleetArgs()).visibilityTimeoutSeconds, 725);
    assert.equal(awsConfig({ visibilityTimeoutSeconds: "3600" }, fleetArgs()).visibilityTimeoutSeconds, 3600);
  });

  it("maxWorkers 1 is refused: Lambda's maximumConcurrency starts at 2", () => {
    const issue = issueOf(() => awsConfig({}, fleetArgs({ maxWorkers: "1" })), "scrape-fleet:maxWorkers");
    assert.equal(issue.value, 1);
    assert.match(issue.fix, /pulumi config set scrape-fleet:maxWorkers 2/);
  });

  it("a function timeout above Lambda's 900 s and a log retention CloudWatch does not offer are refused", () => {
    issueOf(() => awsConfig({}, fleetArgs({ functionTimeoutSeconds: "901" })), "scrape-fleet:functionTimeoutSeconds");
    const retention = issueOf(() => awsConfig({}, fleetArgs({ logRetentionDays: "10" })), "scrape-fleet:logRetentionDays");
    assert.match(retention.fix, /logRetentionDays 14/);
  });

  it("on AWS, maxDeliveryAttempts whose receives cannot fit in the work queue's retention is refused, naming the count that fits", () => {
    // 900 s timeout: visibility 5400 s; 64 receives + the margin pass 4 days, 63 fit.
    const issue = issueOf(() => awsConfig({}, fleetArgs({ functionTimeoutSeconds: "900", maxDeliveryAttempts: "64" })), "scrape-fleet:maxDeliveryAttempts");
    assert.equal(issue.value, 64);
    assert.match(issue.problem, /retention/);
    assert.match(issue.fix, /pulumi config set scrape-fleet:maxDeliveryAttempts 63/);
    assert.equal(awsConfig({}, fleetArgs({ functionTimeoutSeconds: "900", maxDeliveryAttempts: "63" })).visibilityTimeoutSeconds, 5_400);
    assert.equal(awsConfig({}, fleetArgs({ maxDeliveryAttempts: "100" })).visibilityTimeoutSeconds, 720, "the defaults fit 100 deliveries");
  });

  it("on AWS, a settings document larger than an SSM parameter holds (8 KB) is refused before anything is declared; up to 8 KB takes the Advanced tier", () => {
    const domains = (count: number) => JSON.stringify({ blockedDomains: Array.from({ length: count }, (_unused, index) => `blocked-${String(index).padStart(4, "0")}.example`) });
    const issue = issueOf(() => awsConfig({}, fleetArgs({ settings: domains(500) })), "scrape-fleet:settings");
    assert.match(String(issue.value), /^\(\d+ bytes as JSON\)$/);
    assert.match(issue.problem, /8192 bytes in the Advanced tier, 4096 in Standard/);
    assert.match(issue.fix, /blockedDomains/);
    assert.equal(settingsParameterTier(settingsParameterValue(fleetArgs({ settings: domains(200) }).settings)), "Advanced");
    assert.equal(settingsParameterTier(settingsParameterValue(fleetArgs().settings)), "Standard");
    assert.equal(settingsParameterTier("x".repeat(4_096)), "Standard");
    assert.equal(settingsParameterTier("é".repeat(2_049)), "Advanced", "counted in UTF-8 bytes, not characters");
  });

  it("a bad value in a stack run fails it with the SettingsError naming the key", async () => {
    await assert.rejects(runStack("dev", { configOverrides: { "scrape-fleet:maxWorkers": "1" } }), (error: unknown) => error instanceof SettingsError && error.issues[0].key === "scrape-fleet:maxWorkers");
  });

  it("a misspelled key is refused rather than ignored, naming the keys the program reads", async () => {
    const issues = unknownKeyIssues(["scrape-fleet:maxWorker", "scrape-fleet:maxWorkers", "scrape-fleet:batchWindowSeconds", "scrape-fleet:allowCloudChange", "aws:region"], AWS_KEYS);
    assert.deepEqual(issues.map((issue) => issue.key), ["scrape-fleet:maxWorker"]);
    assert.match(issues[0].fix, /pulumi config rm scrape-fleet:maxWorker\b.*maxWorkers/);
    await assert.rejects(runStack("dev", { configOverrides: { "scrape-fleet:maxWorker": "3" } }), (error: unknown) => error instanceof SettingsError && error.issues[0].key === "scrape-fleet:maxWorker");
  });

  it("an AWS stack with no region anywhere is refused, naming aws:region", async () => {
    const saved = { AWS_REGION: process.env.AWS_REGION, AWS_DEFAULT_REGION: process.env.AWS_DEFAULT_REGION };
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    try {
      await assert.rejects(runStack("dev", { configOverrides: { "aws:region": undefined } }), (error: unknown) => error instanceof SettingsError && error.issues[0].key === "aws:region" && /not set/.test(error.message));
    } finally {
      for (const [name, value] of Object.entries(saved)) if (value !== undefined) process.env[name] = value;
    }
  });
});

describe("one run reports every problem with the stack's config at once (under Pulumi mocks)", () => {
  interface Expected {
    readonly key: string;
    readonly value: unknown;
    readonly fix: RegExp;
  }

  /**
   * Runs `stack` with `configOverrides` (mockRun directly: these runs fail, and
   * nothing is gained by caching them), checks that it fails with exactly the
   * `expected` issues, each in the message with its key, value and fix, and
   * that no resource was declared.
   */
  async function refusedWith(stack: string, configOverrides: Record<string, ConfigOverride>, expected: readonly Expected[]): Promise<void> {
    const registered: string[] = [];
    const error = await mockRun({ stack, configOverrides: withOperatorAddresses(stack, configOverrides), mockState: recordingState(registered) }).then(
      () => assert.fail(`the ${stack} run went ahead`),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof SettingsError, `not a SettingsError: ${String(error)}`);
    assert.deepEqual(error.issues.map((issue) => issue.key).sort(), expected.map((issue) => issue.key).sort(), error.message);
    for (const { key, value, fix } of expected) {
      const issue: SettingIssue = error.issues.find((candidate) => candidate.key === key) ?? assert.fail(`no issue for ${key}`);
      assert.deepEqual(issue.value, value, key);
      assert.match(issue.fix, fix, key);
      assert.ok(error.message.includes(formatIssue(issue)), `the message names ${key}, its value and its fix: ${error.message}`);
    }
    assert.deepEqual(registered, [], "no resource is declared");
  }

  it("AWS: a memoryMb below every cloud's range does not hide a log retention CloudWatch refuses", async () => {
    await refusedWith("dev", { "scrape-fleet:memoryMb": "64", "scrape-fleet:logRetentionDays": "10" }, [
      { key: "scrape-fleet:memoryMb", value: "64", fix: /^pulumi config set scrape-fleet:memoryMb 512$/ },
      { key: "scrape-fleet:logRetentionDays", value: 10, fix: /^pulumi config set scrape-fleet:logRetentionDays 14$/ },
    ]);
  });

  it("Google Cloud: an unknown alarm threshold does not hide a workerCpu Cloud Run cannot run", async () => {
    await refusedWith("gcp-prod", { "scrape-fleet:alarms": { bogus: 1 }, "scrape-fleet:workerCpu": "0.5" }, [
      { key: "scrape-fleet:alarms.bogus", value: 1, fix: /pulumi config rm --path scrape-fleet:alarms\.bogus/ },
      { key: "scrape-fleet:workerCpu", value: "0.5", fix: /^pulumi config set scrape-fleet:workerCpu 1\b/ },
    ]);
  });

  it("Azure: a misspelled scrape-fleet: key does not hide a missing azure-native:location", async () => {
    await refusedWith("azure-prod", { "azure-native:location": undefined, "scrape-fleet:lockDuration": "60" }, [
      { key: "azure-native:location", value: undefined, fix: /^pulumi config set azure-native:location westeurope/ },
      { key: "scrape-fleet:lockDuration", value: "(set)", fix: /pulumi config rm scrape-fleet:lockDuration\b.*lockDurationSeconds/ },
    ]);
  });

  it("a bad fleet value is reported once, by the fleet's check, not again by the cloud's check of the default standing in for it", async () => {
    // The default prefix (scrape-fleet-azure-prod) is too long for Azure's storage account names.
    await refusedWith("azure-prod", { "scrape-fleet:namePrefix": "Bad_Prefix" }, [{ key: "scrape-fleet:namePrefix", value: "Bad_Prefix", fix: /^pulumi config set scrape-fleet:namePrefix sf-/ }]);
  });

  it("with no valid cloud, a misspelled key is still reported, and a key of any cloud is not called unknown", async () => {
    // aws-prod sets scrape-fleet:batchWindowSeconds, an AWS key.
    await refusedWith("aws-prod", { "scrape-fleet:cloud": "asw", "scrape-fleet:maxWorker": "3" }, [
      { key: "scrape-fleet:cloud", value: "asw", fix: /pulumi config set scrape-fleet:cloud aws/ },
      { key: "scrape-fleet:maxWorker", value: "(set)", fix: /pulumi config rm scrape-fleet:maxWorker\b/ },
    ]);
  });

  it("a bad fleet value's default stands in for it in the values a cloud checks, while its issue is kept", () => {
    const { cloud, limits, issues, config } = checkFleetConfig({ ...VALID, memoryMb: "64", logRetentionDays: "10", alarms: { bogus: 1, stalledMinutes: "0", backlogMessages: 50 } }, "prod");
    assert.equal(cloud, "aws");
    assert.equal(config, undefined, "no validated config while there are issues");
    assert.deepEqual(issues.map((issue) => issue.key), ["scrape-fleet:memoryMb", "scrape-fleet:alarms.bogus", "scrape-fleet:alarms.stalledMinutes"]);
    assert.equal(limits.memoryMb, INTEGER_KEYS.memoryMb.default);
    assert.equal(limits.logRetentionDays, 10, "a valid value is kept");
    assert.deepEqual(limits.alarms, { backlogMessages: 50, oldestMessageAgeSeconds: 900, errorRatePercent: 5, retryRatePercent: 25, stalledMinutes: 15 });
  });
});

describe("a stack a cloud would take but that would not work", () => {
  it("settings.concurrency below messagesPerWorker is refused naming both keys and the fix", () => {
    const issue = issueOf(() => fleetArgs({ messagesPerWorker: "10", settings: { concurrency: 8 } }), "scrape-fleet:settings.concurrency");
    assert.equal(issue.value, 8);
    assert.match(issue.problem, /below messagesPerWorker \(10\)/);
    assert.match(issue.fix, /pulumi config set --path scrape-fleet:settings\.concurrency 10/);
    assert.equal(fleetArgs({ messagesPerWorker: "10", settings: { concurrency: 10 } }).settings.concurrency, 10);
  });

  it("every shipped stack file keeps concurrency at or above messagesPerWorker", () => {
    for (const stack of availableStacks()) {
      const { args } = stackConfig(stack).fleet;
      assert.ok(args.settings.concurrency >= args.messagesPerWorker, `${stack}: concurrency ${args.settings.concurrency} < messagesPerWorker ${args.messagesPerWorker}`);
    }
  });

  it("placeholder addresses (RFC 2606 names) are told apart from real ones", () => {
    for (const placeholder of ["ops@example.com", "a@EXAMPLE.org", "x@mail.example.net", "https://example.com/contact", "bot@crawl.test", "me@host.invalid", "me@example", "root@localhost"]) {
      assert.equal(isPlaceholderAddress(placeholder), true, placeholder);
    }
    for (const real of ["ops@acme.com", "https://acme.io/bot", "me@example-corp.com", "me@notexample.com", "me@example.co", ""]) {
      assert.equal(isPlaceholderAddress(real), false, real);
    }
  });

  it("a placeholder alertEmail or settings.contact is refused by the program before anything is declared, with the fix", async () => {
    const registered: string[] = [];
    const error = await mockRun({ stack: "aws-prod", mockState: recordingState(registered) }).then(
      () => assert.fail("the shipped aws-prod ran with ops@example.com"),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof SettingsError);
    assert.deepEqual(error.issues.map((issue) => issue.key), ["scrape-fleet:alertEmail", "scrape-fleet:settings.contact"]);
    assert.match(error.message, /every alarm would reach nobody/);
    assert.deepEqual(registered, []);
  });
});

describe("resource names and tags", () => {
  it("a name over the cloud's limit is refused, naming scrape-fleet:namePrefix and a prefix that fits", () => {
    const prefix = "scrape-fleet-a-very-long-stack-name-for-testing-limits";
    const issue = issueOf(() => resourceName("awsLambdaFunction", prefix, "worker-function-name"), "scrape-fleet:namePrefix");
    assert.equal(issue.value, prefix);
    assert.match(issue.problem, /at most 64/);
    const fixed = /namePrefix (\S+)$/.exec(issue.fix)?.[1];
    assert.ok(fixed);
    assert.doesNotThrow(() => resourceName("awsLambdaFunction", fixed, "worker-function-name"));
  });

  it("names follow each cloud's characters and case", () => {
    assert.equal(resourceName("azureStorageAccount", "Scrape-Fleet-prod", "results"), "scrapefleetprodresults");
    assert.equal(resourceName("gcpServiceAccountId", "Scrape-Fleet-prod", "worker"), "scrape-fleet-prod-worker");
    assert.throws(() => resourceName("gcpServiceAccountId", "sf", "w"), /at least|shorter than the 6/);
    assert.throws(() => resourceName("awsS3Bucket", "scrape-fleet-prod", "x".repeat(50), { reserve: 8 }), /less 8 for Pulumi's auto-name suffix/);
    assert.equal(resourceName("gcpLogMetric", "scrape-fleet-prod", "PagesOk"), "scrape-fleet-prod/PagesOk");
    assert.throws(() => resourceName("gcpLogSink", "_fleet", "worker-logs"), /starting with a letter or digit/);
    assert.throws(() => resourceName("gcpLogBucket", "scrape-fleet-prod", "x".repeat(90)), /at most 100/);
    assert.throws(() => resourceName("azureScheduledQueryRule", "scrape-fleet-prod", "errors."), /not ending with a space or a dot/);
  });

  it("tags become valid Google Cloud labels", () => {
    const labels = gcpLabels(fleetTags("Prod.EU", { "Cost Center": "R&D", "1st": "x".repeat(80) }));
    assert.deepEqual(Object.keys(labels).sort(), ["app", "cost_center", "k1st", "managed-by", "stack"]);
    assert.equal(labels.stack, "prod_eu");
    assert.equal(labels.cost_center, "r_d");
    assert.equal(labels.k1st.length, 63);
    for (const [key, value] of Object.entries(labels)) assert.match(`${key}=${value}`, /^[a-z][a-z0-9_-]{0,62}=[a-z0-9_-]{0,63}$/);
  });
});
