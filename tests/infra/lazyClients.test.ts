/**
 * Each worker's SDK clients ship in clients.js beside the handler's bundle and
 * load on first use (functions/<cloud>/sdk.ts): the handler's bundle must not
 * carry them, and the bundle as deployed must find them when its first
 * invocation builds the handler. Each bundle runs in a child process from
 * dist/<cloud>/, where `require("./clients")` resolves as in the deployed
 * package; the handler is built with made-up settings and makes no call.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { bundleAwsWorker } from "../../infra/aws/worker";
import { bundleAzureWorker } from "../../infra/azure/worker";
import { bundleGcpWorker } from "../../infra/gcp/worker";
import type { Bundle } from "../../infra/bundle";

interface Case {
  readonly cloud: string;
  readonly bundle: () => Bundle;
  /** A string only the SDK's own code holds (a signing header, a credential class, the metadata server), which minification keeps. */
  readonly sdkMarker: string;
  /** Builds the handler from the loaded bundle `m` (its clients load here) and prints the handler's type. */
  readonly build: string;
}

const CASES: readonly Case[] = [
  {
    cloud: "aws",
    bundle: bundleAwsWorker,
    sdkMarker: "x-amz-content-sha256",
    build: `m.createLambdaHandler({FLEET_NAME:"f",SETTINGS_PARAMETER:"/p",RESULTS_BUCKET:"b",QUEUE_RETENTION_SECONDS:"100",QUEUE_MAX_RECEIVE_COUNT:"5",QUEUE_VISIBILITY_TIMEOUT_SECONDS:"60",AWS_REGION:"us-east-1"})`,
  },
  {
    cloud: "azure",
    bundle: bundleAzureWorker,
    sdkMarker: "ManagedIdentityCredential",
    build: `m.createAzureHandler({FLEET_NAME:"f",FUNCTION_TIMEOUT_SECONDS:"120",MAX_DELIVERY_ATTEMPTS:"5",APP_CONFIGURATION_ENDPOINT:"https://x.azconfig.io",ServiceBusConnection__fullyQualifiedNamespace:"x.servicebus.windows.net",WORK_QUEUE_NAME:"q",SETTINGS_KEY:"s",RESULTS_CONTAINER_URL:"https://x.blob.core.windows.net/r"})`,
  },
  {
    cloud: "gcp",
    bundle: bundleGcpWorker,
    sdkMarker: "metadata.google.internal",
    build: `m.createCloudFunctionHandler({FLEET_NAME:"f",FUNCTION_TIMEOUT_SECONDS:"120",SETTINGS_PARAMETER:"projects/p/locations/global/parameters/s",RESULTS_BUCKET:"b",RETRY_TOPIC:"projects/p/topics/r",DEAD_LETTER_TOPIC:"projects/p/topics/d",MAX_DELIVERY_ATTEMPTS:"5"})`,
  },
];

describe("worker bundles load their SDK clients on first use", () => {
  for (const { cloud, bundle, sdkMarker, build } of CASES) {
    it(`${cloud}: the SDK is in clients.js, not index.js, and the bundled handler loads it`, () => {
      const [index, , clients] = bundle().files;
      assert.equal(index.name, "index.js");
      assert.equal(clients.name, "clients.js");
      assert.ok(!readFileSync(index.path, "utf8").includes(sdkMarker), `index.js should not carry ${sdkMarker}`);
      assert.ok(readFileSync(clients.path, "utf8").includes(sdkMarker), `clients.js should carry ${sdkMarker}`);
      const script = `const m=require(${JSON.stringify(index.path)});const h=${build};process.stdout.write(JSON.stringify({handle:typeof h.handle,loaded:Object.keys(require.cache).filter(f=>f.endsWith("clients.js")).length}))`;
      const answer = JSON.parse(execFileSync(process.execPath, ["-e", script], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })) as { handle: string; loaded: number };
      assert.equal(answer.handle, "function");
      assert.equal(answer.loaded, 1, "building the handler loads clients.js from beside index.js");
    });
  }
});
