import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COMMANDS, main, OPERATIONS, PLANNING } from "../../ops/cli";
import { OPS_EXIT_CODES } from "../../ops/command";
import { captureIo } from "./support";

describe("npm run fleet: the entry, help, exit codes and target resolution", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "fleet-cli-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const run = async (args: string[], env: NodeJS.ProcessEnv = process.env) => {
    const io = captureIo({ cwd: dir, env });
    const code = await main(args, io);
    return { code, out: io.out(), err: io.err() };
  };

  it("--help lists every command; no command is a usage error; an unknown one names the commands", async () => {
    const help = await run(["--help"]);
    assert.equal(help.code, OPS_EXIT_CODES.ok);
    for (const command of COMMANDS) assert.match(help.out, new RegExp(`^  ${command.name} `, "m"));
    assert.equal((await run([])).code, OPS_EXIT_CODES.usage);
    const unknown = await run(["enqeue"]);
    assert.equal(unknown.code, OPS_EXIT_CODES.usage);
    assert.match(unknown.err, /unknown command "enqeue"; the commands are enqueue, status/);
  });

  for (const command of OPERATIONS) {
    it(`${command.name} --help prints its usage, target flags and exit codes`, async () => {
      const help = await run([command.name, "--help"]);
      assert.equal(help.code, OPS_EXIT_CODES.ok);
      assert.match(help.out, new RegExp(`^usage: npm run fleet -- ${command.name}`));
      assert.match(help.out, /--stack NAME/);
      assert.match(help.out, /Exit codes: 0 done, 1 part of the work failed/);
    });
  }

  for (const command of PLANNING) {
    it(`${command.name} --help prints its usage and exit codes`, async () => {
      const help = await run([command.name, "--help"]);
      assert.equal(help.code, OPS_EXIT_CODES.ok);
      assert.match(help.out, new RegExp(`^usage: npm run fleet -- ${command.name}`));
      assert.match(help.out, /Exit codes: 0 done, .*2 usage/);
    });
  }

  it("a command needs exactly one target, and an unknown flag is named", async () => {
    const none = await run(["status"]);
    assert.equal(none.code, OPS_EXIT_CODES.usage);
    assert.match(none.err, /no fleet named: pass --stack NAME .* --outputs FILE .* or --local DIR/);
    assert.match((await run(["status", "--stack", "a", "--local", "b"])).err, /pass only one of --stack, --outputs and --local/);
    const flag = await run(["status", "--local", "x", "--colour"]);
    assert.equal(flag.code, OPS_EXIT_CODES.usage);
    assert.match(flag.err, /Unknown option '--colour'/);
  });

  it("--outputs must hold a scrape-fleet stack's outputs: the missing ones are named", async () => {
    await writeFile(join(dir, "partial.json"), JSON.stringify({ cloud: "aws", workQueueUrl: "https://sqs.us-east-1.amazonaws.com/1/q" }));
    const partial = await run(["status", "--outputs", "partial.json"]);
    assert.equal(partial.code, OPS_EXIT_CODES.usage);
    assert.match(partial.err, /lacks the output\(s\) workQueueId, deadLetterQueueUrl, workerName, resultsBucket, configLocation, dashboardUrl, alertChannel; run `pulumi up`/);
    await writeFile(join(dir, "other.json"), JSON.stringify({ cloud: "oracle" }));
    assert.match((await run(["status", "--outputs", "other.json"])).err, /has `cloud` "oracle"; expected one of aws, azure, gcp/);
    assert.match((await run(["status", "--outputs", "missing.json"])).err, /--outputs missing.json cannot be read .*pulumi stack output --json --stack NAME > missing.json/);
  });

  it("--stack reads `pulumi stack output --json --stack NAME`, and says what to do without the Pulumi CLI", async () => {
    const bin = join(dir, "bin");
    await rm(bin, { recursive: true, force: true });
    await mkdir(bin);
    // A stand-in for the Pulumi CLI that prints its arguments as a stack's outputs, with a cloud this version does not operate.
    await writeFile(join(bin, "pulumi"), `#!/bin/sh\necho '{"cloud":"azure","args":"'"$*"'"}'\n`);
    await chmod(join(bin, "pulumi"), 0o755);
    const called = await run(["status", "--stack", "azure-prod"], { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` });
    assert.equal(called.code, OPS_EXIT_CODES.usage);
    assert.match(called.err, /lacks the output\(s\) workQueueUrl/, "the CLI's JSON was read and checked");
    const missing = await run(["status", "--stack", "aws-prod"], { ...process.env, PATH: join(dir, "empty") });
    assert.equal(missing.code, OPS_EXIT_CODES.usage);
    assert.match(missing.err, /the Pulumi CLI is not on PATH, so --stack aws-prod cannot be read; install it .* or .* --outputs outputs.json/);
  });

  it("a local folder that holds no fleet is named, with the command that makes one", async () => {
    const absent = await run(["status", "--local", "nowhere"]);
    assert.equal(absent.code, OPS_EXIT_CODES.usage);
    assert.match(absent.err, /nowhere holds no local fleet \(no queue.sqlite\); .*enqueue FILE --local nowhere/);
  });

  it("settings validate reports every bad key of a file with its value and fix, exit 2", async () => {
    await writeFile(join(dir, "bad.json"), JSON.stringify({ concurrency: 0, colour: "red", userAgent: "ok" }));
    const bad = await run(["settings", "validate", "bad.json"]);
    assert.equal(bad.code, OPS_EXIT_CODES.usage);
    assert.match(bad.out, /`concurrency` must be an integer from 1 to 256 \(given 0\)/);
    assert.match(bad.out, /`colour` is not a runtime setting \(given "red"\); remove it/);
    await writeFile(join(dir, "good.json"), JSON.stringify({ concurrency: 4 }));
    assert.equal((await run(["settings", "validate", "good.json"])).code, OPS_EXIT_CODES.ok);
  });

  it("settings set on a local fleet shows the diff, and KEY= returns a key to its default", async () => {
    await writeFile(join(dir, "urls.txt"), "https://a.example/\n");
    assert.equal((await run(["enqueue", "urls.txt", "--local", "fleet"])).code, OPS_EXIT_CODES.ok);
    const set = await run(["settings", "set", "concurrency=4", "contact=ops@example.com", "--local", "fleet"]);
    assert.match(set.out, /concurrency: \(default\) → 4/);
    assert.match(set.out, /contact: \(default\) → "ops@example.com"/);
    const unset = await run(["settings", "set", "concurrency=", "--local", "fleet", "--json"]);
    assert.deepEqual((JSON.parse(unset.out) as { changes: unknown[] }).changes, [{ key: "concurrency", from: 4 }]);
    const paused = await run(["pause", "--local", "fleet"]);
    assert.match(paused.out, /paused local fleet fleet: trigger stopped, settings enabled: false, 1 message\(s\) waiting/);
    assert.match((await run(["status", "--local", "fleet"])).out, /PAUSED/);
  });
});
