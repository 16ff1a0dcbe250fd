/**
 * The cost model prices the program's alarms and metrics in each cloud's own
 * billing unit. These counts are constants in ops/cost/model.ts, so the
 * command needs no Pulumi run; here they are counted again from what the
 * program really declares (the mocked plan of each cloud's prod stack) and
 * from a metrics line the AWS handler really writes, so an alarm or metric
 * added to the program without its price fails here.
 */
import assert from "node:assert/strict";
import { createEmfMetrics } from "../../functions/aws/metrics";
import { AWS, AZURE, GCP } from "../../infra/policy/types";
import { BILLED_ALARMS, EMF_METRICS } from "../../ops/cost/model";
import { ofType, runStack } from "../support/stack";

/** CloudWatch bills an alarm per metric it reads: one, or each `metric` among its metric queries. */
function awsAlarmMetrics(inputs: Readonly<Record<string, unknown>>): number {
  const queries = inputs.metricQueries;
  if (!Array.isArray(queries)) return 1;
  return queries.filter((query: { metric?: unknown }) => query.metric !== undefined).length;
}

describe("the cost model's billed alarm and metric units match the program", function () {
  this.timeout(60_000);

  it("AWS: 13 alarm metrics over the MetricAlarms of aws-prod", async () => {
    const alarms = ofType(await runStack("aws-prod"), AWS.metricAlarm);
    assert.ok(alarms.length > 0);
    assert.equal(alarms.reduce((total, alarm) => total + awsAlarmMetrics(alarm.inputs), 0), BILLED_ALARMS.awsAlarmMetrics, alarms.map((alarm) => `${alarm.name}: ${awsAlarmMetrics(alarm.inputs)}`).join(", "));
  });

  it("Azure: one time series per metric-alert criterion, and the log search alerts every 5 minutes, of azure-prod", async () => {
    const plan = await runStack("azure-prod");
    const series = ofType(plan, AZURE.metricAlert).reduce((total, alert) => {
      const criteria = (alert.inputs.criteria as { allOf?: unknown[] } | undefined)?.allOf;
      assert.ok(Array.isArray(criteria), `${alert.name}: no criteria.allOf`);
      return total + criteria.length;
    }, 0);
    assert.equal(series, BILLED_ALARMS.azureMetricAlertSeries);
    const logAlerts = ofType(plan, AZURE.scheduledQueryRule);
    assert.deepEqual(logAlerts.map((alert) => alert.inputs.evaluationFrequency), Array(BILLED_ALARMS.azureLogAlertsEvery5Minutes).fill("PT5M"));
  });

  it("Google Cloud: the conditions of every alerting policy of gcp-prod", async () => {
    const policies = ofType(await runStack("gcp-prod"), GCP.alertPolicy);
    const conditions = policies.reduce((total, policy) => total + (policy.inputs.conditions as unknown[]).length, 0);
    assert.equal(conditions, BILLED_ALARMS.gcpAlertConditions);
  });

  it("AWS: the metrics in the handler's EMF line", () => {
    const lines: string[] = [];
    const metrics = createEmfMetrics({ fleetName: "scrape-fleet-test", write: (line) => lines.push(line) });
    metrics.recordPage({ outcome: "ok", bytesOnWire: 1000, fetchMs: 120 });
    metrics.recordDeadLetters(1);
    metrics.flush();
    const document = JSON.parse(lines[0]) as { _aws: { CloudWatchMetrics: { Metrics: unknown[] }[] } };
    assert.equal(document._aws.CloudWatchMetrics[0].Metrics.length, EMF_METRICS);
  });
});
