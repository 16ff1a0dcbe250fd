import { strict as assert } from "node:assert";
import { HostPacer, isBlockedHost } from "../../shared/politeness";

describe("block list", () => {
  const table: Array<[host: string, list: string[], blocked: boolean]> = [
    ["example.com", ["example.com"], true],
    ["a.example.com", ["example.com"], true],
    ["deep.a.example.com", ["example.com"], true],
    ["badexample.com", ["example.com"], false],
    ["example.com.evil.net", ["example.com"], false],
    ["com", ["example.com"], false],
    ["EXAMPLE.COM", ["example.com"], true],
    ["a.example.com", ["Example.COM."], true],
    ["a.example.com.", ["example.com"], true],
    ["a.example.com", ["*.example.com"], true],
    ["a.example.com", [".example.com"], true],
    ["example.com", ["*.example.com"], true],
    ["other.org", ["example.com", "other.org"], true],
    ["other.org", [], false],
    ["xn--bcher-kva.example", ["bücher.example"], true],
    ["10.0.0.1", ["10.0.0.1"], true],
    ["10.0.0.1", ["0.0.1"], false],
    ["[::1]", ["[::1]"], true],
  ];
  for (const [host, list, blocked] of table) {
    it(`${host} is ${blocked ? "" : "not "}blocked by ${JSON.stringify(list)}`, () => {
      assert.equal(isBlockedHost(host, list), blocked);
    });
  }

  it("sees a changed list (a new settings array) at once", () => {
    assert.equal(isBlockedHost("a.example.com", ["other.org"]), false);
    assert.equal(isBlockedHost("a.example.com", ["other.org", "example.com"]), true);
  });
});

describe("host pacer", () => {
  it("spaces reservations for one host by the interval and waits nothing once it has passed", () => {
    let clock = 1_000;
    const pacer = new HostPacer(() => clock);
    assert.equal(pacer.reserve("example.com", 500), 0);
    clock += 100;
    assert.equal(pacer.reserve("example.com", 500), 400);
    clock += 2_000;
    assert.equal(pacer.reserve("example.com", 500), 0);
  });

  it("many reservations at the same instant get consecutive slots one interval apart", () => {
    const clock = 50;
    const pacer = new HostPacer(() => clock);
    const waits = Array.from({ length: 20 }, () => pacer.reserve("example.com", 250));
    assert.deepEqual(
      waits,
      Array.from({ length: 20 }, (_, index) => index * 250),
    );
  });

  it("hosts are paced independently", () => {
    const pacer = new HostPacer(() => 0);
    assert.equal(pacer.reserve("a.example", 1_000), 0);
    assert.equal(pacer.reserve("b.example", 1_000), 0);
    assert.equal(pacer.reserve("a.example", 1_000), 1_000);
    assert.equal(pacer.reserve("b.example", 1_000), 1_000);
  });

  it("a zero interval never waits", () => {
    const pacer = new HostPacer(() => 0);
    assert.deepEqual([pacer.reserve("h", 0), pacer.reserve("h", 0)], [0, 0]);
  });

  it("tryReserve declines a slot beyond maxWaitMs without pushing later callers back", () => {
    const pacer = new HostPacer(() => 0);
    assert.equal(pacer.tryReserve("h", 1_000, 1_500), 0);
    assert.equal(pacer.tryReserve("h", 1_000, 1_500), 1_000);
    assert.equal(pacer.tryReserve("h", 1_000, 1_500), undefined);
    assert.equal(pacer.tryReserve("h", 1_000, 1_500), undefined);
    assert.equal(pacer.reserve("h", 1_000), 2_000);
  });

  it("a host written with a trailing dot or in capitals shares the pace of the same host", () => {
    const pacer = new HostPacer(() => 0);
    assert.equal(pacer.reserve("example.com", 1_000), 0);
    assert.equal(pacer.reserve("example.com.", 1_000), 1_000);
    assert.equal(pacer.reserve("Example.COM", 1_000), 2_000);
    assert.equal(pacer.reserve("example.com.:8080", 1_000), 0);
    assert.equal(pacer.reserve("example.com:8080", 1_000), 1_000);
  });

  it("msUntilFree tells how long until a host's next slot, reserving nothing", () => {
    let clock = 0;
    const pacer = new HostPacer(() => clock);
    assert.equal(pacer.msUntilFree("h", 1_000), 0);
    pacer.reserve("h", 1_000);
    clock = 400;
    assert.equal(pacer.msUntilFree("h", 1_000), 600);
    assert.equal(pacer.msUntilFree("h", 1_000), 600);
    assert.equal(pacer.reserve("h", 1_000), 600);
  });

  it("a larger interval applies from the previous slot", () => {
    let clock = 0;
    const pacer = new HostPacer(() => clock);
    pacer.reserve("h", 100);
    clock = 200;
    assert.equal(pacer.reserve("h", 5_000), 4_800);
  });

  it("forgets hosts whose last slot is long past once the table has doubled, keeping memory bounded", () => {
    let clock = 0;
    const pacer = new HostPacer(() => clock);
    for (let index = 0; index < 5_000; index++) pacer.reserve(`early-${index}.example`, 1_000);
    assert.equal(pacer.size, 5_000);
    // Past the longest interval the settings allow (10 minutes), the early hosts can no longer delay anyone.
    clock = 11 * 60_000;
    for (let index = 0; index < 4_000; index++) pacer.reserve(`late-${index}.example`, 1_000);
    assert.equal(pacer.size, 4_000);
    clock += 100;
    assert.equal(pacer.reserve("late-0.example", 1_000), 900);
    assert.equal(pacer.reserve("early-0.example", 1_000), 0);
  });

  it("does not forget a host while the longest allowed interval could still delay it", () => {
    let clock = 0;
    const pacer = new HostPacer(() => clock);
    pacer.reserve("slow.example", 600_000);
    clock = 1;
    for (let index = 0; index < 3_000; index++) pacer.reserve(`other-${index}.example`, 1_000);
    assert.equal(pacer.reserve("slow.example", 600_000), 599_999);
  });

  it("refuses a negative interval, naming it", () => {
    assert.throws(() => new HostPacer().reserve("h", -1), /given -1/);
  });
});
