/**
 * `simulate`'s model: one of the platforms (the stack's cloud, or the local
 * fleet) draining a backlog in simulated time over a site profile.
 */
import { Engine, type SimResult } from "./engine";
import { startAws } from "./aws";
import { startAzure } from "./azure";
import { startGcp } from "./gcp";
import { startLocal } from "./local";
import { seededRandom } from "./random";
import type { SiteProfile } from "./site";

export type Platform = "aws" | "azure" | "gcp" | "local";

export interface FleetShape {
  readonly maxWorkers: number;
  readonly messagesPerWorker: number;
  /** Pages one worker fetches at once (the runtime setting `concurrency`). */
  readonly concurrency: number;
  readonly maxDeliveryAttempts: number;
  readonly functionTimeoutSeconds: number;
  readonly perDomainDelayMs: number;
  readonly pageDeadlineMs: number;
}

export interface SimulationInput {
  readonly platform: Platform;
  readonly fleet: FleetShape;
  readonly site: SiteProfile;
  readonly backlog: number;
  /** @default 1 */
  readonly seed?: number;
  /** Time a page holds its worker's JavaScript thread, ms (see `EngineOptions.threadMsPerPage`). @default 0 */
  readonly threadMsPerPage?: number;
  /** @default false */
  readonly recordCompletions?: boolean;
  /** Local platform only: when the process can answer its first page, ms. @default 0 */
  readonly startMs?: number;
}

export function simulate(input: SimulationInput): SimResult {
  const random = seededRandom(input.seed ?? 1);
  const { fleet } = input;
  const engine = new Engine({ backlog: input.backlog, site: input.site, perDomainDelayMs: fleet.perDomainDelayMs, random, threadMsPerPage: input.threadMsPerPage, recordCompletions: input.recordCompletions });
  switch (input.platform) {
    case "local":
      startLocal(engine, { startMs: input.startMs, concurrency: fleet.concurrency, maxAttempts: fleet.maxDeliveryAttempts, pageDeadlineMs: fleet.pageDeadlineMs }, random);
      break;
    case "aws":
      startAws(engine, fleet, random);
      break;
    case "azure":
      startAzure(engine, fleet, random);
      break;
    case "gcp":
      startGcp(engine, fleet, random);
      break;
  }
  return engine.run(() => undefined);
}

export type { SimResult, TimelinePoint } from "./engine";
