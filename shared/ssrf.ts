/**
 * The SSRF guard: which addresses a worker may connect to, which URLs it may
 * fetch, and a DNS lookup that refuses a connection whose name resolves to a
 * refused address.
 *
 * Addresses are classified with ipaddr.js, never with `ip`, `private-ip` or
 * `netmask`, which have had bypasses through odd address spellings
 * (CVE-2023-42282, CVE-2024-29415, CVE-2021-28918).
 */
import { lookup as systemLookup, type LookupAddress, type LookupOptions } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import ipaddr from "ipaddr.js";
import { ScrapeError } from "./errors";

export interface AddressPolicy {
  /**
   * Also allow loopback (127/8, ::1), RFC 1918 private (10/8, 172.16/12,
   * 192.168/16), carrier-grade NAT (100.64/10) and unique-local (fc00::/7)
   * addresses, for running the fleet against a site on a local network.
   * Never allows link-local (which holds the cloud metadata services),
   * multicast, unspecified or reserved addresses.
   * @default false
   */
  readonly allowPrivateNetworks?: boolean;
}

/** The decision for one address, with the rule that made it. */
export interface AddressVerdict {
  readonly allowed: boolean;
  /** The address as parsed (canonical spelling). */
  readonly address: string;
  /** The range the address falls in, such as `unicast`, `loopback` or `cloudMetadata`. */
  readonly rule: string;
}

/** Ranges only `allowPrivateNetworks` opens. Everything else outside `unicast` stays refused. */
const PRIVATE_NETWORK_RANGES: ReadonlySet<string> = new Set(["loopback", "private", "carrierGradeNat", "uniqueLocal"]);

/**
 * Platform endpoints that are refused whatever the operator switch says: some
 * sit in ranges the switch opens (unique-local, CGNAT) or in public space.
 * 169.254.169.254 needs no entry: all of link-local is always refused.
 */
const CLOUD_METADATA_RANGES: readonly (readonly [ipaddr.IPv4 | ipaddr.IPv6, number])[] = [
  // AWS instance metadata, DNS and time services over IPv6.
  // https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html
  ipaddr.parseCIDR("fd00:ec2::/32"),
  // Azure WireServer, a public address every Azure host answers on.
  // https://learn.microsoft.com/en-us/azure/virtual-network/what-is-ip-address-168-63-129-16
  ipaddr.parseCIDR("168.63.129.16/32"),
  // Alibaba Cloud metadata, inside 100.64/10 (which the switch opens).
  ipaddr.parseCIDR("100.100.100.200/32"),
];

/**
 * IPv6 ranges whose last 32 bits are an IPv4 address the packet really goes
 * to: IPv4-mapped (::ffff:0:0/96), SIIT (::ffff:0:0:0/96, RFC 6145) and the
 * well-known NAT64 prefix (64:ff9b::/96, RFC 6052). They are judged by that
 * IPv4 address. Other NAT64 prefixes, 6to4 and Teredo are simply refused.
 */
const WELL_KNOWN_NAT64 = ipaddr.parseCIDR("64:ff9b::/96");

/**
 * Classifies one IP address. Only public unicast addresses are allowed, plus
 * the private ranges when `allowPrivateNetworks` is on. A string that is not
 * an IP address is refused with the rule `notAnAddress`.
 */
export function classifyAddress(address: string, policy: AddressPolicy = {}): AddressVerdict {
  if (!ipaddr.isValid(address)) return { allowed: false, address, rule: "notAnAddress" };
  const parsed = ipaddr.parse(address);
  const canonical = parsed.toString();

  if (CLOUD_METADATA_RANGES.some(([network, bits]) => parsed.kind() === network.kind() && parsed.match(network, bits))) {
    return { allowed: false, address: canonical, rule: "cloudMetadata" };
  }
  if (parsed instanceof ipaddr.IPv6) {
    const embedded = embeddedIPv4(parsed);
    if (embedded) {
      const inner = classifyAddress(embedded.address.toString(), policy);
      return { allowed: inner.allowed, address: canonical, rule: `${embedded.range} of ${inner.address} (${inner.rule})` };
    }
    // ::a.b.c.d, "IPv4-compatible", deprecated by RFC 4291 §2.5.5.1. ipaddr.js
    // calls it `unicast`, so it must be caught before the range check.
    if (parsed.parts.slice(0, 6).every((part) => part === 0) && parsed.range() === "unicast") {
      return { allowed: false, address: canonical, rule: "ipv4Compatible" };
    }
  }

  const range = parsed.range();
  if (range === "unicast") return { allowed: true, address: canonical, rule: range };
  return { allowed: policy.allowPrivateNetworks === true && PRIVATE_NETWORK_RANGES.has(range), address: canonical, rule: range };
}

function embeddedIPv4(address: ipaddr.IPv6): { range: string; address: ipaddr.IPv4 } | undefined {
  const range = address.range();
  const translated = range === "ipv4Mapped" || range === "rfc6145" || (range === "rfc6052" && address.match(WELL_KNOWN_NAT64));
  if (!translated) return undefined;
  const [high, low] = address.parts.slice(6);
  return { range, address: new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]) };
}

/**
 * The URL policy, applied to every URL before any connection (redirect
 * targets included): http(s) only, no credentials, and an IP-literal host
 * must be an allowed address. Host names are checked later, at connect time,
 * by `guardedLookup`, against every address they resolve to.
 *
 * WHATWG URL parsing turns every IPv4 spelling (`2130706433`, `0x7f.1`,
 * `0177.0.0.1`, `127.1`, full-width digits) into dotted decimal and
 * compresses IPv6 (`[::ffff:127.0.0.1]` → `[::ffff:7f00:1]`), so the literal
 * seen here is the address that would be dialled.
 * https://url.spec.whatwg.org/#concept-ipv4-parser
 */
export function checkUrl(input: string, policy: AddressPolicy = {}): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch (error) {
    throw new ScrapeError("url_invalid", `URL ${quote(input)} is not an absolute URL; send one such as "https://example.com/page"`, { cause: error });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ScrapeError("url_scheme_not_allowed", `URL ${quote(input)} has scheme "${url.protocol}"; only http: and https: URLs are fetched`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new ScrapeError("url_credentials_not_allowed", `URL ${quote(redactCredentials(url))} carries user credentials; remove the "user:password@" part (credentials are never sent)`);
  }
  const literal = ipLiteral(url.hostname);
  if (literal !== undefined) {
    const verdict = classifyAddress(literal, policy);
    if (!verdict.allowed) throw ssrfRefused(url.hostname, verdict);
  }
  return url;
}

/**
 * The check made by the connector for the host it is about to dial. An IP
 * literal never reaches `lookup` (net.connect dials it directly), so it is
 * classified here; a name returns undefined and is checked by the lookup.
 */
export function refuseLiteralHost(hostname: string, policy: AddressPolicy = {}): ScrapeError | undefined {
  const literal = ipLiteral(hostname);
  if (literal === undefined) return undefined;
  const verdict = classifyAddress(literal, policy);
  return verdict.allowed ? undefined : ssrfRefused(hostname, verdict);
}

/**
 * Wraps a resolver (same signature as `dns.lookup`) so that a name resolving
 * to ANY refused address fails with `ssrf_refused` and no connection is made.
 * All addresses are checked, not just the first, because a rebinding name can
 * hand back a public and a private address and let the OS pick.
 *
 * `resolve` is injectable so tests can map names to chosen addresses.
 */
export function guardedLookup(policy: AddressPolicy = {}, resolve: LookupFunction = systemLookup): LookupFunction {
  return (hostname, options, callback) => {
    const lookupOptions: LookupOptions = { ...options, all: true };
    resolve(hostname, lookupOptions, (error, result) => {
      if (error) {
        callback(error, options.all ? [] : "");
        return;
      }
      const addresses: LookupAddress[] = typeof result === "string" ? [{ address: result, family: isIP(result) }] : result;
      if (addresses.length === 0) {
        callback(new ScrapeError("dns_failed", `host ${hostname} resolved to no address`), options.all ? [] : "");
        return;
      }
      for (const { address } of addresses) {
        const verdict = classifyAddress(address, policy);
        if (!verdict.allowed) {
          callback(ssrfRefused(hostname, verdict), options.all ? [] : "");
          return;
        }
      }
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

function ssrfRefused(host: string, verdict: AddressVerdict): ScrapeError {
  return new ScrapeError(
    "ssrf_refused",
    `refused to connect to host ${host} at address ${verdict.address}: rule ${verdict.rule} is not a public address. ` +
      "The operator switch allowPrivateNetworks exists only for private networks in local testing; " +
      "it never opens link-local, cloud metadata, multicast or unspecified addresses",
  );
}

/** The address inside a URL hostname that is an IP literal (`[::1]` → `::1`), else undefined. */
function ipLiteral(hostname: string): string | undefined {
  const bare = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
  return isIP(bare) === 0 ? undefined : bare;
}

/**
 * `text` with a URL's `user:password@` part redacted, for logs and stored
 * records; returned unchanged when it has none or is not a URL.
 */
export function withoutCredentials(text: string): string {
  const url = URL.parse(text);
  return url === null || (url.username === "" && url.password === "") ? text : redactCredentials(url);
}

function redactCredentials(url: URL): string {
  const copy = new URL(url.href);
  copy.username = "redacted";
  copy.password = "";
  return copy.href;
}

function quote(value: string): string {
  return JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value);
}
