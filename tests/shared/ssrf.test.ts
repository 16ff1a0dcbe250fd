/**
 * The SSRF guard as pure functions: classification, the URL policy and the
 * guarded lookup with a stub resolver. Nothing here opens a socket or
 * resolves a real name.
 */
import { strict as assert } from "node:assert";
import type { LookupAddress } from "node:dns";
import type { LookupFunction } from "node:net";
import { ScrapeError } from "../../shared/errors";
import { checkUrl, classifyAddress, guardedLookup, refuseLiteralHost } from "../../shared/ssrf";

const PRIVATE_SWITCH_ON = { allowPrivateNetworks: true } as const;

function codeOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof ScrapeError, `expected a ScrapeError, got ${String(error)}`);
    return error.code;
  }
  assert.fail("nothing was thrown");
}

/** Runs a guarded lookup over a stub that answers `addresses` for every name. */
function guardedAnswer(addresses: readonly LookupAddress[], policy = {}): Promise<LookupAddress[]> {
  const stub: LookupFunction = (_hostname, options, callback) => {
    assert.equal(options.all, true, "the guard must ask the resolver for every address");
    callback(null, [...addresses]);
  };
  return new Promise((resolve, reject) => {
    guardedLookup(policy, stub)("name.example", { all: true }, (error, result) => {
      if (error) reject(error);
      else resolve(result as LookupAddress[]);
    });
  });
}

describe("SSRF address classification", () => {
  const refused: Array<[string, string, string]> = [
    ["IPv4 loopback", "127.0.0.1", "loopback"],
    ["the far end of 127/8", "127.255.255.254", "loopback"],
    ["RFC 1918 10/8", "10.0.0.1", "private"],
    ["RFC 1918 172.16/12", "172.31.255.1", "private"],
    ["RFC 1918 192.168/16", "192.168.1.1", "private"],
    ["cloud metadata (IPv4)", "169.254.169.254", "linkLocal"],
    ["AWS metadata (IPv6)", "fd00:ec2::254", "cloudMetadata"],
    ["Azure WireServer", "168.63.129.16", "cloudMetadata"],
    ["CGNAT", "100.64.0.1", "carrierGradeNat"],
    ["this network 0/8", "0.0.0.0", "unspecified"],
    ["0/8 beyond 0.0.0.0", "0.1.2.3", "unspecified"],
    ["broadcast", "255.255.255.255", "broadcast"],
    ["IPv4 multicast", "224.0.0.1", "multicast"],
    ["benchmarking 198.18/15", "198.19.0.1", "reserved"],
    ["documentation TEST-NET-3", "203.0.113.7", "reserved"],
    ["future use 240/4", "240.0.0.1", "reserved"],
    ["IPv6 loopback", "::1", "loopback"],
    ["IPv6 unspecified", "::", "unspecified"],
    ["IPv6 link-local", "fe80::1", "linkLocal"],
    ["IPv6 link-local with a zone", "fe80::1%eth0", "linkLocal"],
    ["IPv6 unique-local", "fd12:3456::1", "uniqueLocal"],
    ["IPv6 multicast", "ff02::1", "multicast"],
    ["IPv6 documentation", "2001:db8::1", "reserved"],
    ["IPv4-mapped loopback", "::ffff:127.0.0.1", "ipv4Mapped of 127.0.0.1 (loopback)"],
    ["IPv4-mapped metadata in hex", "::ffff:a9fe:a9fe", "ipv4Mapped of 169.254.169.254 (linkLocal)"],
    ["IPv4-compatible loopback", "::7f00:1", "ipv4Compatible"],
    ["IPv4-compatible metadata", "::a9fe:a9fe", "ipv4Compatible"],
    ["SIIT-embedded loopback", "::ffff:0:7f00:1", "rfc6145 of 127.0.0.1 (loopback)"],
    ["NAT64-embedded private", "64:ff9b::a00:1", "rfc6052 of 10.0.0.1 (private)"],
    ["local-use NAT64", "64:ff9b:1::a00:1", "rfc6052"],
    ["6to4 embedding a private address", "2002:a00:1::1", "6to4"],
    ["Teredo", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "teredo"],
    ["decimal IPv4 spelling of loopback", "2130706433", "loopback"],
    ["octal IPv4 spelling of loopback", "0177.0.0.1", "loopback"],
    ["hex IPv4 spelling of loopback", "0x7f.1", "loopback"],
    ["a host name", "example.com", "notAnAddress"],
  ];
  for (const [what, address, rule] of refused) {
    it(`${what} (${address}) is refused by rule ${rule}`, () => {
      const verdict = classifyAddress(address);
      assert.equal(verdict.allowed, false);
      assert.equal(verdict.rule, rule);
    });
  }

  for (const address of ["93.184.215.14", "8.8.8.8", "2606:2800::1", "2a00:1450:4001:82a::200e", "::ffff:93.184.215.14", "64:ff9b::5db8:d70e"]) {
    it(`the public address ${address} is allowed`, () => {
      assert.equal(classifyAddress(address).allowed, true);
    });
  }
});

describe("SSRF operator switch allowPrivateNetworks", () => {
  for (const address of ["127.0.0.1", "::1", "10.0.0.1", "172.16.0.1", "192.168.0.1", "100.64.0.1", "fd12::1", "::ffff:127.0.0.1"]) {
    it(`allows the private address ${address}`, () => {
      assert.equal(classifyAddress(address, PRIVATE_SWITCH_ON).allowed, true);
      assert.equal(classifyAddress(address).allowed, false, "refused with the switch off");
    });
  }
  for (const address of ["169.254.169.254", "fd00:ec2::254", "fe80::1", "168.63.129.16", "100.100.100.200", "::ffff:169.254.169.254", "0.0.0.0", "::", "224.0.0.1", "ff02::1", "255.255.255.255", "::7f00:1"]) {
    it(`still refuses ${address}`, () => {
      assert.equal(classifyAddress(address, PRIVATE_SWITCH_ON).allowed, false);
    });
  }
});

describe("URL policy", () => {
  const ssrfSpellings = [
    "http://127.0.0.1/",
    "http://2130706433/",
    "http://0x7f.1/",
    "http://127.1/",
    "http://0177.0.0.1/",
    "http://0x7f000001/",
    "http://127.000.000.001/",
    "http://127.0.0.1./",
    "http://%31%32%37.0.0.1/",
    "http://１２７.0.0.1/",
    "http://0/",
    "http://0.0.0.0:8080/",
    "http://[::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[0:0:0:0:0:ffff:127.0.0.1]/",
    "http://[::127.0.0.1]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[fe80::1]/",
    "http://0251.0376.0251.0376/",
    "http://2852039166/",
    "http://10.0.0.1/",
    "https://192.168.0.1:8443/",
    "http://0300.0250.0.1/",
    "http://100.64.0.1/",
    "http://[64:ff9b::7f00:1]/",
    "http://[2002:7f00:1::]/",
  ];
  for (const url of ssrfSpellings) {
    it(`${url} is refused before any connection`, () => {
      assert.equal(codeOf(() => checkUrl(url)), "ssrf_refused");
    });
  }

  it("the refusal names the host, the address, the rule and what the switch is for", () => {
    assert.throws(() => checkUrl("http://0x7f.1/"), (error: unknown) => {
      assert.ok(error instanceof ScrapeError);
      assert.match(error.message, /host 127\.0\.0\.1 at address 127\.0\.0\.1: rule loopback/);
      assert.match(error.message, /allowPrivateNetworks exists only for private networks in local testing/);
      return true;
    });
  });

  it("with the switch on, loopback and private literals pass but metadata does not", () => {
    assert.equal(checkUrl("http://127.0.0.1:8080/x", PRIVATE_SWITCH_ON).hostname, "127.0.0.1");
    assert.equal(checkUrl("http://10.0.0.1/", PRIVATE_SWITCH_ON).hostname, "10.0.0.1");
    assert.equal(codeOf(() => checkUrl("http://169.254.169.254/", PRIVATE_SWITCH_ON)), "ssrf_refused");
    assert.equal(codeOf(() => checkUrl("http://[fd00:ec2::254]/", PRIVATE_SWITCH_ON)), "ssrf_refused");
  });

  const otherRefusals: Array<[string, string, string]> = [
    ["a relative URL", "/just/a/path", "url_invalid"],
    ["garbage", "http://exa mple.com/", "url_invalid"],
    ["an IPv4 number out of range", "http://4294967296/", "url_invalid"],
    ["file:", "file:///etc/passwd", "url_scheme_not_allowed"],
    ["gopher:", "gopher://example.com/", "url_scheme_not_allowed"],
    ["ftp:", "ftp://example.com/", "url_scheme_not_allowed"],
    ["user and password", "https://user:secret@example.com/", "url_credentials_not_allowed"],
    ["a user name only", "https://admin@example.com/", "url_credentials_not_allowed"],
    ["the @ trick", "http://example.com@127.0.0.1/", "url_credentials_not_allowed"],
  ];
  for (const [what, url, code] of otherRefusals) {
    it(`${what} is refused as ${code}`, () => {
      assert.equal(codeOf(() => checkUrl(url)), code);
    });
  }

  it("a credentials refusal does not repeat the password", () => {
    assert.throws(() => checkUrl("https://user:hunter2@example.com/"), (error: unknown) => error instanceof ScrapeError && !error.message.includes("hunter2"));
  });

  it("a public host name and a public literal pass (names are checked at connect time)", () => {
    assert.equal(checkUrl("https://example.com/a?b=1").href, "https://example.com/a?b=1");
    assert.equal(checkUrl("http://93.184.215.14/").hostname, "93.184.215.14");
    assert.equal(checkUrl("http://[2606:2800::1]/").hostname, "[2606:2800::1]");
  });
});

describe("SSRF connect-time guard", () => {
  it("a name resolving to a private address is refused (DNS rebinding)", async () => {
    await assert.rejects(guardedAnswer([{ address: "10.0.0.1", family: 4 }]), (error: unknown) => error instanceof ScrapeError && error.code === "ssrf_refused" && /name\.example at address 10\.0\.0\.1/.test(error.message));
  });

  it("a name resolving to a public and a loopback address is refused: any bad address refuses", async () => {
    await assert.rejects(
      guardedAnswer([
        { address: "93.184.215.14", family: 4 },
        { address: "127.0.0.1", family: 4 },
      ]),
      (error: unknown) => error instanceof ScrapeError && error.code === "ssrf_refused",
    );
  });

  it("a name resolving to AWS IPv6 metadata is refused even with the switch on", async () => {
    await assert.rejects(guardedAnswer([{ address: "fd00:ec2::254", family: 6 }], PRIVATE_SWITCH_ON), (error: unknown) => error instanceof ScrapeError && error.code === "ssrf_refused");
  });

  it("a name resolving only to public addresses is passed through in the shape asked for", async () => {
    const answer = [
      { address: "93.184.215.14", family: 4 },
      { address: "2606:2800::1", family: 6 },
    ];
    assert.deepEqual(await guardedAnswer(answer), answer);
    const single = await new Promise<[string, number | undefined]>((resolve, reject) => {
      const stub: LookupFunction = (_hostname, _options, callback) => callback(null, answer);
      guardedLookup({}, stub)("name.example", { all: false }, (error, address, family) => (error ? reject(error) : resolve([address as string, family])));
    });
    assert.deepEqual(single, ["93.184.215.14", 4]);
  });

  it("a resolver error is passed on unchanged", async () => {
    const failure = Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" });
    const stub: LookupFunction = (_hostname, _options, callback) => callback(failure, []);
    const error = await new Promise((resolve) => guardedLookup({}, stub)("missing.example", { all: true }, resolve));
    assert.equal(error, failure);
  });

  it("an empty answer is a DNS failure, not a pass", async () => {
    await assert.rejects(guardedAnswer([]), (error: unknown) => error instanceof ScrapeError && error.code === "dns_failed");
  });

  it("an IP literal at connect time is classified by the connector check", () => {
    assert.equal(refuseLiteralHost("127.0.0.1")?.code, "ssrf_refused");
    assert.equal(refuseLiteralHost("::ffff:7f00:1")?.code, "ssrf_refused");
    assert.equal(refuseLiteralHost("[::1]")?.code, "ssrf_refused");
    assert.equal(refuseLiteralHost("127.0.0.1", PRIVATE_SWITCH_ON), undefined);
    assert.equal(refuseLiteralHost("93.184.215.14"), undefined);
    assert.equal(refuseLiteralHost("example.com"), undefined, "names are left to the lookup");
  });
});
