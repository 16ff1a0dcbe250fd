/**
 * A CloudWatch alarm is one PutMetricAlarm accepts. The provider sends an
 * alarm's shape as given, so a period CloudWatch does not take, a math alarm
 * over more than 10 metrics or with no (or two) queries returning data, or
 * more datapoints than evaluation periods passes the mocks and `pulumi
 * preview`, and fails at `pulumi up`, after other resources were created.
 * The limits and their sources: AWS_LIMITS.cloudWatchAlarm (../cloudLimits.ts).
 */
import { AWS_LIMITS } from "../cloudLimits";
import { AWS } from "./types";
import { display, items, numeric, read, type FleetRule, type ResourceView } from "./view";

const LIMITS = AWS_LIMITS.cloudWatchAlarm;

function periodAccepted(seconds: number): boolean {
  return (LIMITS.shortPeriodsSeconds as readonly number[]).includes(seconds) || (seconds > 0 && seconds % LIMITS.periodStepSeconds === 0);
}

function checkResource(resource: ResourceView): string[] {
  if (resource.type !== AWS.metricAlarm) return [];
  const problems: string[] = [];
  const queries = items(read(resource.props, "metricQueries"));
  const periods = [read(resource.props, "period"), ...queries.map((query) => read(query, "metric", "period"))].map(numeric).filter((seconds): seconds is number => seconds !== undefined);
  for (const seconds of periods.filter((candidate) => !periodAccepted(candidate))) {
    problems.push(`${display(resource)} has a period of ${seconds} s: CloudWatch takes 10, 30 or a multiple of 60. Fix: use ${Math.max(LIMITS.periodStepSeconds, Math.round(seconds / LIMITS.periodStepSeconds) * LIMITS.periodStepSeconds)}.`);
  }
  if (queries.length > 0) {
    const metrics = queries.filter((query) => read(query, "metric") !== undefined).length;
    if (metrics > LIMITS.maxMetricsInExpression) {
      problems.push(`${display(resource)} reads ${metrics} metrics: CloudWatch refuses a math alarm over more than ${LIMITS.maxMetricsInExpression}. Fix: split it into alarms of 10 metrics or fewer.`);
    }
    const returning = queries.filter((query) => read(query, "returnData") !== false).length;
    if (returning !== 1) {
      problems.push(`${display(resource)} has ${returning} metric queries returning data: CloudWatch takes exactly one (a query without returnData counts as true). Fix: set returnData: true on the alarm's expression and false on every other query.`);
    }
  }
  const evaluationPeriods = numeric(read(resource.props, "evaluationPeriods"));
  const datapoints = numeric(read(resource.props, "datapointsToAlarm"));
  if (evaluationPeriods !== undefined && datapoints !== undefined && datapoints > evaluationPeriods) {
    problems.push(`${display(resource)} alarms on ${datapoints} datapoints out of ${evaluationPeriods} evaluation periods: CloudWatch refuses more datapoints than periods. Fix: set datapointsToAlarm to ${evaluationPeriods} or less.`);
  }
  return problems;
}

export const alarmShape: FleetRule = {
  name: "alarm-shape",
  description: "A CloudWatch alarm has a shape PutMetricAlarm accepts.",
  checks: [
    "CloudWatch alarm: every period (its own and each metric query's) 10, 30 or a multiple of 60 seconds; at most 10 metrics in a math alarm; exactly one metric query returning data; `datapointsToAlarm` at most `evaluationPeriods`",
  ],
  checkResource,
};
