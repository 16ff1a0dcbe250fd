/**
 * AWS list prices for what the fleet uses, US regions (us-east-1 and
 * us-west-2 charge the same for every row here). Lambda rows are arm64, the
 * architecture the worker runs on (infra/aws/worker.ts).
 */
import type { PriceTable } from "./types";

const READ = "2026-12-04";
const LAMBDA = "https://aws.amazon.com/lambda/pricing/";
const SQS = "https://aws.amazon.com/sqs/pricing/";
const S3 = "https://aws.amazon.com/s3/pricing/";
const CLOUDWATCH = "https://aws.amazon.com/cloudwatch/pricing/";
const SSM = "https://aws.amazon.com/systems-manager/pricing/";

export const AWS_PRICES: PriceTable = {
  cloud: "aws",
  rows: [
    { id: "compute.gbSecond", item: "Lambda duration, arm64 (first 7.5 billion GB-s a month)", unit: "GB-second", usd: 0.0000133334, region: "*", source: LAMBDA, read: READ },
    { id: "compute.request", item: "Lambda requests", unit: "request", usd: 0.2 / 1e6, region: "*", source: LAMBDA, read: READ },
    // Each 64 KB chunk of a request's payload is billed as one request; the fleet's messages are far below that.
    { id: "queue.request", item: "SQS standard queue requests (per 64 KB chunk)", unit: "request", usd: 0.4 / 1e6, region: "*", source: SQS, read: READ, note: "first 100 billion a month" },
    { id: "store.write", item: "S3 Standard PUT, COPY, POST, LIST requests", unit: "request", usd: 0.005 / 1000, region: "*", source: S3, read: READ },
    { id: "store.gbMonth", item: "S3 Standard storage (first 50 TB)", unit: "GB-month", usd: 0.023, region: "*", source: S3, read: READ },
    // Lambda's logs are vended logs since 2025: tiered, $0.50 for the first 10 TB a month.
    { id: "logs.ingestGb", item: "CloudWatch Logs ingestion (Lambda vended logs, first 10 TB)", unit: "GB", usd: 0.5, region: "*", source: CLOUDWATCH, read: READ },
    { id: "logs.gbMonth", item: "CloudWatch Logs storage (archived, compressed)", unit: "GB-month", usd: 0.03, region: "*", source: CLOUDWATCH, read: READ },
    { id: "metrics.metricMonth", item: "CloudWatch custom metrics (EMF), first 10,000", unit: "metric-month", usd: 0.3, region: "*", source: CLOUDWATCH, read: READ },
    { id: "alarms.alarmMonth", item: "CloudWatch standard-resolution alarm, per metric it reads", unit: "alarm-metric-month", usd: 0.1, region: "*", source: CLOUDWATCH, read: READ },
    { id: "dashboard.month", item: "CloudWatch dashboard", unit: "dashboard-month", usd: 3, region: "*", source: CLOUDWATCH, read: READ },
    // A standard parameter read at standard throughput (40 TPS) costs nothing; higher throughput would be $0.05 per 10,000.
    { id: "config.read", item: "SSM Parameter Store GetParameter, standard throughput", unit: "request", usd: 0, region: "*", source: SSM, read: READ, note: "free up to 40 reads/s per account; higher throughput $0.05 per 10,000" },
  ],
  freeTiers: [
    { id: "lambda-duration", offsets: "compute.gbSecond", perMonth: 400_000, item: "Lambda: 400,000 GB-s a month", source: LAMBDA, read: READ },
    { id: "lambda-requests", offsets: "compute.request", perMonth: 1_000_000, item: "Lambda: 1 million requests a month", source: LAMBDA, read: READ },
    { id: "sqs-requests", offsets: "queue.request", perMonth: 1_000_000, item: "SQS: 1 million requests a month", source: SQS, read: READ },
    { id: "logs-ingest", offsets: "logs.ingestGb", perMonth: 5, item: "CloudWatch Logs: 5 GB ingestion a month", source: CLOUDWATCH, read: READ },
    { id: "custom-metrics", offsets: "metrics.metricMonth", perMonth: 10, item: "CloudWatch: 10 custom metrics", source: CLOUDWATCH, read: READ },
    { id: "dashboards", offsets: "dashboard.month", perMonth: 3, item: "CloudWatch: 3 dashboards", source: CLOUDWATCH, read: READ },
    { id: "alarms", offsets: "alarms.alarmMonth", perMonth: 10, item: "CloudWatch: 10 alarm metrics", source: CLOUDWATCH, read: READ },
  ],
};
