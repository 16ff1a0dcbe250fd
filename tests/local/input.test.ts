import assert from "node:assert/strict";
import { HELP, parseCliArgs } from "../../functions/local/args";
import { UsageError } from "../../functions/local/errors";
import { decodeUrlList, parseUrlList } from "../../functions/local/urlsFile";

describe("local URLs file", () => {
  it("blank lines and # comments are ignored, CRLF and a byte order mark are read", () => {
    const list = parseUrlList("\uFEFF# seeds\r\n\r\nhttps://a.example/\r\n   \r\n  https://b.example/x  \r\n", "urls.txt");
    assert.deepEqual(list.urls.map((entry) => [entry.line, entry.url]), [[3, "https://a.example/"], [5, "https://b.example/x"]]);
    assert.deepEqual(list.invalid, []);
  });

  it("a line that is not a URL is reported with its line number, its value and the fix", () => {
    const list = parseUrlList("https://a.example/\nexample.com/page\nnot a url\nftp://files.example/x\n", "urls.txt");
    assert.deepEqual(list.invalid.map((entry) => [entry.line, entry.code]), [[2, "url_invalid"], [3, "url_invalid"], [4, "url_scheme_not_allowed"]]);
    assert.match(list.invalid[0].reason, /^urls\.txt:2: "example\.com\/page" is not an absolute URL; .*https:\/\/example\.com\/page/);
    assert.equal(list.invalid[1].reason, 'urls.txt:3: "not a url" is not a URL; write one absolute http(s) URL per line');
    assert.match(list.invalid[2].reason, /urls\.txt:4: .*ftp:; only http: and https:/);
  });

  it("whitespace is pointed at only where removing it would leave a URL", () => {
    const list = parseUrlList("https://a.example/my page\nhttps://a.example/ https://b.example/\nsee the docs\n", "urls.txt");
    assert.deepEqual(
      list.invalid.map((entry) => entry.reason),
      [
        'urls.txt:1: "https://a.example/my page" contains whitespace; put one URL per line and write spaces inside a URL as %20',
        'urls.txt:2: "https://a.example/ https://b.example/" contains whitespace; put one URL per line and write spaces inside a URL as %20',
        'urls.txt:3: "see the docs" is not a URL; write one absolute http(s) URL per line',
      ],
    );
  });

  it("a repeated URL (in any spelling) is kept once and each repeat is reported with both line numbers", () => {
    const list = parseUrlList("https://a.example/p\nhttps://b.example/\nHTTPS://A.example:443/p#top\nhttps://a.example/p\n", "urls.txt");
    assert.deepEqual(list.urls.map((entry) => entry.line), [1, 2]);
    assert.deepEqual(list.duplicates.map((entry) => [entry.line, entry.firstLine]), [[3, 1], [4, 1]]);
  });
});

describe("local URLs file that is not a URL list", () => {
  const refused = (bytes: Uint8Array, pattern: RegExp): void =>
    assert.throws(() => decodeUrlList(bytes, "urls.bin"), (error: unknown) => error instanceof UsageError && pattern.test(error.message));

  it("binary data, text that is not UTF-8, UTF-16 and control characters are refused, and nothing of them is echoed", () => {
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d]);
    refused(png, /^URLS_FILE urls\.bin does not look like a URL list \(it holds binary data: a NUL byte at offset 8\); pass a text file \(UTF-8\) with one URL per line$/);
    refused(Uint8Array.from([0x68, 0x74, 0x74, 0x70, 0xc3, 0x28]), /does not look like a URL list \(it is not UTF-8 text\)/);
    refused(Buffer.from("\uFEFFhttps://a.example/\n", "utf16le"), /does not look like a URL list \(it is UTF-16 text\); save it as UTF-8/);
    refused(Buffer.from("https://a.example/\nhttps://b\u001b[31m.example/\n"), /does not look like a URL list \(line 2 holds the control character U\+001B\)/);
  });

  it("a text list with tabs, CRLF and non-ASCII letters is read", () => {
    assert.equal(decodeUrlList(Buffer.from("https://a.example/caf\u00e9\t\r\n"), "urls.txt"), "https://a.example/caf\u00e9\t\r\n");
  });

  it("a URL too long to queue is a dead-lettered line in local words, not the cloud's message wording", () => {
    const long = `https://a.example/?q=${"x".repeat(100_000)}`;
    const list = parseUrlList(`https://a.example/\n${long}\n`, "urls.txt");
    assert.deepEqual(list.urls.map((entry) => entry.line), [1]);
    assert.equal(list.invalid[0].code, "message_too_large");
    assert.match(list.invalid[0].reason, /^urls\.txt:2: "https:\/\/a\.example\/\?q=x+…" is 100021 bytes long, too long to queue \(a queued URL can be at most about 64 KB\); .*check the line$/);
    assert.doesNotMatch(list.invalid[0].reason, /message/);
  });
});

describe("local CLI arguments", () => {
  const usageError = (argv: string[], pattern: RegExp): void =>
    assert.throws(() => parseCliArgs(argv), (error: unknown) => error instanceof UsageError && pattern.test(error.message));

  it("defaults: .fleet, five attempts, no private networks, concurrency from the settings", () => {
    assert.deepEqual(parseCliArgs(["urls.txt"]), {
      kind: "run",
      options: { urlsFile: "urls.txt", outDir: ".fleet", allowPrivateNetworks: false, maxAttempts: 5, verbose: false },
    });
  });

  it("every option is read, and - means stdin", () => {
    const parsed = parseCliArgs(["--out", "o", "--concurrency", "4", "--config", "s.json", "--max-attempts", "2", "--allow-private-networks", "-"]);
    assert.deepEqual(parsed, {
      kind: "run",
      options: { urlsFile: "-", outDir: "o", concurrency: 4, configFile: "s.json", allowPrivateNetworks: true, maxAttempts: 2, verbose: false },
    });
  });

  it("an unknown flag, a missing value, a bad number or a missing URLS_FILE is a usage error naming it", () => {
    usageError(["--bogus", "urls.txt"], /^unknown option --bogus \(a URLS_FILE whose name starts with - goes after --\)$/);
    usageError(["urls.txt", "--out"], /option --out needs a value/);
    usageError(["--concurrency", "0", "urls.txt"], /--concurrency must be an integer from 1 to 256 \(given "0"\)/);
    usageError(["--concurrency", "2.5", "urls.txt"], /given "2\.5"/);
    usageError(["--concurrency", "-1", "urls.txt"], /^--concurrency must be an integer from 1 to 256 \(given "-1"\)$/);
    usageError(["--max-attempts", "-5", "urls.txt"], /^--max-attempts must be an integer from 1 to 100 \(given "-5"\)$/);
    usageError(["--out", "-o", "urls.txt"], /^option --out is followed by "-o", which reads as an option; give the value as --out=-o if that is what you meant$/);
    usageError(["--max-attempts", "many", "urls.txt"], /--max-attempts must be an integer from 1 to 100/);
    usageError([], /missing URLS_FILE/);
    usageError(["a.txt", "b.txt"], /expected one URLS_FILE, got 2/);
  });

  it("--help lists both stop exit codes, the queue file, and where the settings keys are documented", () => {
    assert.deepEqual(parseCliArgs(["--help"]), { kind: "help" });
    assert.match(HELP, /130 stopped by Ctrl-C, 143 stopped\s+by SIGTERM/);
    assert.match(HELP, /DIR\/queue\.sqlite\s+the queue/);
    assert.match(HELP, /README\.md, "Runtime settings"/);
    assert.match(HELP, /--verbose\s+print a JSON log line for every page; its ms includes the wait\s+for the host's slot/);
  });
});
