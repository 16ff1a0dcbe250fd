/**
 * Politeness toward the sites the fleet fetches: the operator's block list
 * and the per-host request spacing.
 */
import { isIP } from "node:net";
import { domainToASCII } from "node:url";
import { SETTINGS_SPEC } from "./settings";

/**
 * Whether `host` is in `blockedDomains` or under one of its entries:
 * `example.com` blocks `example.com` and `a.example.com`, not `badexample.com`.
 * Case and a trailing dot are ignored on both sides, and internationalized
 * names match their punycode form; an entry may be written `*.example.com` or
 * `.example.com` with the same meaning. An IP literal entry blocks exactly
 * that address, written as the URL parser writes it (`[::1]`, `10.0.0.1`).
 */
export function isBlockedHost(host: string, blockedDomains: readonly string[]): boolean {
  if (blockedDomains.length === 0) return false;
  const blocked = blockedSet(blockedDomains);
  let name = normalizeHost(host);
  if (isIP(name) !== 0) return blocked.has(name);
  // Walk up the labels: a.b.example.com, b.example.com, example.com, com.
  while (name !== "") {
    if (blocked.has(name)) return true;
    const dot = name.indexOf(".");
    if (dot < 0) return false;
    name = name.slice(dot + 1);
  }
  return false;
}

/** Normalized entries per settings list; settings objects are reused until they change, so this is computed once per list. */
const blockedSets = new WeakMap<readonly string[], ReadonlySet<string>>();

function blockedSet(blockedDomains: readonly string[]): ReadonlySet<string> {
  let set = blockedSets.get(blockedDomains);
  if (set === undefined) {
    set = new Set(blockedDomains.map((entry) => normalizeHost(entry.trim().replace(/^\*?\./, ""))).filter((entry) => entry !== ""));
    blockedSets.set(blockedDomains, set);
  }
  return set;
}

function normalizeHost(host: string): string {
  const trimmed = host.endsWith(".") ? host.slice(0, -1) : host;
  if (/^[\x00-\x7f]*$/.test(trimmed)) return trimmed.toLowerCase();
  // The URL parser gives hosts in punycode. domainToASCII returns "" for a name IDNA rejects; compare that one as written.
  return domainToASCII(trimmed) || trimmed.toLowerCase();
}

/** `example.com.` and `Example.com:8080` are the hosts `example.com` and `example.com:8080`: they share one pace. */
function pacingKey(host: string): string {
  return host.replace(/\.(?=:\d+$|$)/, "").toLowerCase();
}

/**
 * How long a host's last slot is remembered: the longest `perDomainDelayMs`
 * the settings allow, so forgetting a host can never shorten a spacing.
 */
const REMEMBER_MS = SETTINGS_SPEC.perDomainDelayMs.max;

/** The table is swept when it grows past this, or past twice what the last sweep kept. */
const MIN_SWEEP_SIZE = 1024;

/**
 * Spaces requests to each host within ONE worker process.
 *
 * Guarantee: for one `HostPacer`, the fetch start times it hands out for a
 * host (the moment of the call plus the wait it returns) are at least
 * `minIntervalMs` apart, where `minIntervalMs` is the value given with the
 * later of two reservations, however many callers reserve at the same moment.
 * It holds only inside one process: the pacer shares nothing between workers,
 * so across N concurrent workers (Lambda instances, Function instances, local
 * processes) the same host can see up to N requests per interval.
 *
 * It only computes waits; the caller sleeps, and a slot the caller then does
 * not use stays taken (`tryReserve` lets a caller decline a slot too far
 * ahead instead). Memory is bounded: a host is forgotten once its last slot is
 * more than 10 minutes (the largest `perDomainDelayMs`, or any larger interval
 * asked for) in the past, which cannot weaken the guarantee, and the table is
 * swept whenever it doubles.
 */
export class HostPacer {
  /** Host → the start time of its latest reserved slot. */
  private readonly lastSlot = new Map<string, number>();
  private rememberMs: number = REMEMBER_MS;
  private sweepAtSize = MIN_SWEEP_SIZE;

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Reserves the next free slot for `host` and returns how many milliseconds
   * the caller must wait before fetching (0 when it may fetch now).
   * `minIntervalMs`: 0 or more; 0 spaces nothing but still records the slot.
   */
  reserve(host: string, minIntervalMs: number): number {
    const next = this.nextSlot(host, minIntervalMs);
    this.take(host, next.slot, next.now, minIntervalMs);
    return next.slot - next.now;
  }

  /**
   * Like `reserve`, but reserves nothing and returns `undefined` when the slot
   * would be more than `maxWaitMs` away, so a caller that cannot wait that
   * long (its batch ends first) does not push every later caller back.
   */
  tryReserve(host: string, minIntervalMs: number, maxWaitMs: number): number | undefined {
    const next = this.nextSlot(host, minIntervalMs);
    if (next.slot - next.now > maxWaitMs) return undefined;
    this.take(host, next.slot, next.now, minIntervalMs);
    return next.slot - next.now;
  }

  /** Milliseconds until `host`'s next free slot, reserving nothing (0 when it is free now). */
  msUntilFree(host: string, minIntervalMs: number): number {
    const next = this.nextSlot(host, minIntervalMs);
    return next.slot - next.now;
  }

  /** Hosts currently remembered. */
  get size(): number {
    return this.lastSlot.size;
  }

  private nextSlot(host: string, minIntervalMs: number): { readonly now: number; readonly slot: number } {
    if (!(minIntervalMs >= 0)) throw new RangeError(`HostPacer interval for ${host} must be 0 or more milliseconds (given ${minIntervalMs})`);
    const now = this.now();
    const previous = this.lastSlot.get(pacingKey(host));
    return { now, slot: previous === undefined ? now : Math.max(now, previous + minIntervalMs) };
  }

  private take(host: string, slot: number, now: number, minIntervalMs: number): void {
    this.lastSlot.set(pacingKey(host), slot);
    this.rememberMs = Math.max(this.rememberMs, minIntervalMs);
    if (this.lastSlot.size >= this.sweepAtSize) this.sweep(now);
  }

  /** Drops hosts whose last slot is so far past that no interval could still delay them. */
  private sweep(now: number): void {
    for (const [host, slot] of this.lastSlot) {
      if (now - slot >= this.rememberMs) this.lastSlot.delete(host);
    }
    this.sweepAtSize = Math.max(MIN_SWEEP_SIZE, 2 * this.lastSlot.size);
  }
}
