/**
 * Google Cloud list prices for what the fleet uses, us-central1 (a tier 1
 * region). Cloud Functions gen2 runs on Cloud Run and is billed as a Cloud
 * Run service with request-based billing: CPU and memory only while a
 * request is being handled, rounded up to the next 100 ms.
 */
import type { PriceTable } from "./types";

const READ = "2026-12-04";
const RUN = "https://cloud.google.com/run/pricing";
const PUBSUB = "https://cloud.google.com/pubsub/pricing";
const STORAGE = "https://cloud.google.com/storage/pricing";
const OBSERVABILITY = "https://cloud.google.com/stackdriver/pricing";
const PARAMETER_MANAGER = "https://cloud.google.com/secret-manager/parameter-manager/pricing";

export const GCP_PRICES: PriceTable = {
  cloud: "gcp",
  rows: [
    { id: "compute.vcpuSecond", item: "Cloud Run request-based CPU, tier 1", unit: "vCPU-second", usd: 0.000024, region: "*", source: RUN, read: READ },
    { id: "compute.gbSecond", item: "Cloud Run request-based memory, tier 1", unit: "GiB-second", usd: 0.0000025, region: "*", source: RUN, read: READ },
    { id: "compute.request", item: "Cloud Run requests (one push = one request)", unit: "request", usd: 0.4 / 1e6, region: "*", source: RUN, read: READ },
    // Every publish and every push delivery is billed at least 1,000 bytes.
    { id: "queue.tib", item: "Pub/Sub message delivery throughput (publish + subscribe), at least 1,000 bytes per request", unit: "TiB", usd: 40, region: "*", source: PUBSUB, read: READ },
    { id: "store.write", item: "Cloud Storage Standard class A operations", unit: "operation", usd: 0.05 / 10_000, region: "*", source: STORAGE, read: READ },
    { id: "store.gbMonth", item: "Cloud Storage Standard, us-central1", unit: "GB-month", usd: 0.02, region: "us-central1", source: STORAGE, read: READ },
    { id: "store.gbMonth", item: "Cloud Storage Standard, other regions", unit: "GB-month", usd: 0.023, region: "*", source: STORAGE, read: READ, note: "europe-west1 price" },
    { id: "logs.ingestGb", item: "Cloud Logging ingestion (30 days' retention included)", unit: "GiB", usd: 0.5, region: "*", source: OBSERVABILITY, read: READ },
    { id: "logs.gbMonth", item: "Cloud Logging retention beyond 30 days", unit: "GiB-month", usd: 0.01, region: "*", source: OBSERVABILITY, read: READ },
    // User-defined log-based metrics are chargeable metrics, billed by bytes of samples (8 bytes a point, 80 a distribution point).
    { id: "metrics.mib", item: "Cloud Monitoring chargeable metric samples (150 MiB–100,000 MiB)", unit: "MiB", usd: 0.258, region: "*", source: OBSERVABILITY, read: READ },
    { id: "alarms.alarmMonth", item: "Cloud Monitoring alerting condition", unit: "condition-month", usd: 0.1, region: "*", source: OBSERVABILITY, read: READ },
    { id: "config.read", item: "Parameter Manager parameter version reads", unit: "request", usd: 0.05 / 10_000, region: "*", source: PARAMETER_MANAGER, read: READ, note: "estimate: check the page" },
  ],
  freeTiers: [
    { id: "run-cpu", offsets: "compute.vcpuSecond", perMonth: 180_000, item: "Cloud Run: 180,000 vCPU-s a month (request-based)", source: RUN, read: READ },
    { id: "run-memory", offsets: "compute.gbSecond", perMonth: 360_000, item: "Cloud Run: 360,000 GiB-s a month (request-based)", source: RUN, read: READ },
    { id: "run-requests", offsets: "compute.request", perMonth: 2_000_000, item: "Cloud Run: 2 million requests a month", source: RUN, read: READ },
    { id: "pubsub", offsets: "queue.tib", perMonth: 10 / 1024, item: "Pub/Sub: 10 GiB a month", source: PUBSUB, read: READ },
    { id: "storage-class-a", offsets: "store.write", perMonth: 5_000, item: "Cloud Storage: 5,000 class A operations a month (US regions)", source: STORAGE, read: READ },
    { id: "logging", offsets: "logs.ingestGb", perMonth: 50, item: "Cloud Logging: 50 GiB a month per project", source: OBSERVABILITY, read: READ },
    { id: "metrics", offsets: "metrics.mib", perMonth: 150, item: "Cloud Monitoring: 150 MiB of chargeable samples a month", source: OBSERVABILITY, read: READ },
  ],
};
