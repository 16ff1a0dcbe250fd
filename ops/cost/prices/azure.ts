/**
 * Azure list prices for what the fleet uses (Flex Consumption, Service Bus
 * Standard, Blob Storage hot LRS, Log Analytics, App Configuration Standard).
 * Blob prices differ by region; the stacks use westeurope, eastus is given
 * for comparison.
 */
import type { PriceTable } from "./types";

const READ = "2026-12-04";
const FUNCTIONS = "https://azure.microsoft.com/en-us/pricing/details/functions/";
const SERVICE_BUS = "https://azure.microsoft.com/en-us/pricing/details/service-bus/";
const BLOB = "https://azure.microsoft.com/en-us/pricing/details/storage/blobs/";
const MONITOR = "https://azure.microsoft.com/en-us/pricing/details/monitor/";
const APP_CONFIGURATION = "https://azure.microsoft.com/en-us/pricing/details/app-configuration/";

export const AZURE_PRICES: PriceTable = {
  cloud: "azure",
  rows: [
    // On-demand mode bills the instance's memory while it is executing at least one function, not per execution.
    // https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#billing
    { id: "compute.gbSecond", item: "Flex Consumption on-demand execution time (instance memory)", unit: "GB-second", usd: 0.000026, region: "*", source: FUNCTIONS, read: READ },
    { id: "compute.request", item: "Flex Consumption on-demand executions", unit: "execution", usd: 0.4 / 1e6, region: "*", source: FUNCTIONS, read: READ },
    { id: "queue.baseHour", item: "Service Bus Standard base charge", unit: "hour", usd: 0.0135, region: "*", source: SERVICE_BUS, read: READ },
    { id: "queue.request", item: "Service Bus Standard operations (13M–100M a month)", unit: "operation", usd: 0.8 / 1e6, region: "*", source: SERVICE_BUS, read: READ },
    { id: "store.write", item: "Blob Storage hot LRS write operations", unit: "operation", usd: 0.065 / 10_000, region: "westeurope", source: BLOB, read: READ },
    { id: "store.write", item: "Blob Storage hot LRS write operations", unit: "operation", usd: 0.05 / 10_000, region: "*", source: BLOB, read: READ, note: "eastus price" },
    { id: "store.gbMonth", item: "Blob Storage hot LRS capacity (first 50 TB)", unit: "GB-month", usd: 0.0196, region: "westeurope", source: BLOB, read: READ },
    { id: "store.gbMonth", item: "Blob Storage hot LRS capacity (first 50 TB)", unit: "GB-month", usd: 0.018, region: "*", source: BLOB, read: READ, note: "eastus price" },
    { id: "logs.ingestGb", item: "Log Analytics Analytics-logs ingestion, pay-as-you-go (Application Insights traces)", unit: "GB", usd: 2.3, region: "*", source: MONITOR, read: READ },
    // 31 days are included (90 for Application Insights data); the fleet keeps logRetentionDays, at least 30.
    { id: "logs.gbMonth", item: "Log Analytics retention beyond the included days", unit: "GB-month", usd: 0.1, region: "*", source: MONITOR, read: READ },
    { id: "metrics.metricMonth", item: "custom metrics: none (the fleet's numbers ride on trace lines, counted in log ingestion)", unit: "metric-month", usd: 0, region: "*", source: MONITOR, read: READ },
    { id: "alarms.alarmMonth", item: "Azure Monitor metric alert rule (one time series)", unit: "alarm-month", usd: 0.1, region: "*", source: MONITOR, read: READ },
    { id: "alarms.logAlarmMonth", item: "Azure Monitor log search alert rule, 5-minute frequency", unit: "alarm-month", usd: 1.5, region: "*", source: MONITOR, read: READ },
    { id: "config.storeDay", item: "App Configuration Standard store (200,000 requests a day included)", unit: "day", usd: 1.2, region: "*", source: APP_CONFIGURATION, read: READ },
    { id: "config.read", item: "App Configuration Standard requests over the daily quota", unit: "request", usd: 0.06 / 10_000, region: "*", source: APP_CONFIGURATION, read: READ },
  ],
  freeTiers: [
    { id: "flex-duration", offsets: "compute.gbSecond", perMonth: 100_000, item: "Flex Consumption: 100,000 GB-s a month (per subscription)", source: FUNCTIONS, read: READ },
    { id: "flex-executions", offsets: "compute.request", perMonth: 250_000, item: "Flex Consumption: 250,000 executions a month", source: FUNCTIONS, read: READ },
    { id: "service-bus-ops", offsets: "queue.request", perMonth: 13_000_000, item: "Service Bus Standard: 13 million operations a month included in the base charge", source: SERVICE_BUS, read: READ },
    { id: "log-analytics", offsets: "logs.ingestGb", perMonth: 5, item: "Log Analytics: 5 GB a month per billing account", source: MONITOR, read: READ },
  ],
};
