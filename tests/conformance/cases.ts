/**
 * The conformance table: each case is one message and one runtime settings
 * change, with ONE cloud-neutral expected answer and the records expected in
 * the results store. Every runtime (AWS, Azure, Google Cloud, local) must give
 * exactly this, which is the promise "the same settings change has the same
 * effect on every handler".
 *
 * What the normalised answers mean on each runtime (runtimes.ts reads them):
 *
 * | answer        | AWS (SQS partial batch response)                 | Azure (Service Bus, auto-complete)                        | Google Cloud (Pub/Sub push)                      | local (SQLite queue)                    |
 * |---------------|--------------------------------------------------|-----------------------------------------------------------|--------------------------------------------------|-----------------------------------------|
 * | done          | not in `batchItemFailures`: Lambda deletes it    | `handle` resolves: the host completes it                  | 200: acknowledged                                | acked (state `done`)                    |
 * | redelivered   | in `batchItemFailures`: back after the visibility timeout | a copy is scheduled for the retry delay, then `handle` resolves and the original is completed (rejects `MessageAbandonedError` if the copy cannot be scheduled: back at once) | 429 (503/500 for our own faults): not acked, back after the subscription's backoff | requeued with a delay, or (kill switch) never claimed and still waiting |
 * | dead-lettered | in `batchItemFailures` AND counted `PagesMalformed` in the batch's EMF line: back until `maxReceiveCount`, then the DLQ | rejects `MessageMalformedError`: abandoned until `maxDeliveryCount`, then `$DeadLetterQueue` | 400: not acked until `maxDeliveryAttempts`, then the dead-letter topic | in the dead-letter table at once |
 *
 * So "dead-lettered" means "not done, heading to the dead-letter path": only
 * the local queue moves it there on the first delivery; the three clouds spend
 * their configured attempts first (see the adapters' headers for why). On AWS
 * the queue's answer for a malformed message is the same as for a retry; only
 * the handler's metrics tell them apart.
 */
import type { ErrorCode } from "../../shared/errors";
import { encodeMessage } from "../../shared/message";
import type { FleetSettings } from "../../shared/settings";
import { GOOD_TITLE, SITE_PATHS, XHTML_TITLE, type PageSite } from "./site";

export const ANSWERS = ["done", "redelivered", "dead-lettered"] as const;
export type Answer = (typeof ANSWERS)[number];

/** A runtime settings document, as an operator writes it in the config store (missing keys take their defaults). */
export type SettingsDocument = Readonly<Partial<FleetSettings>>;

/**
 * The document every case starts from, in every runtime's store: no host
 * pacing and no robots.txt, so each case makes only the requests it is about,
 * and short timeouts. A case's `settings` are written over it.
 */
export const BASE_SETTINGS: SettingsDocument = {
  perDomainDelayMs: 0,
  respectRobots: false,
  connectTimeoutMs: 1_000,
  headersTimeoutMs: 2_000,
  bodyIdleTimeoutMs: 2_000,
  pageDeadlineMs: 5_000,
};

/** A message as it is put on the queue: its body, and the URL it names when it names one. */
export interface CaseMessage {
  readonly body: string;
  readonly url?: string;
}

/** One record the results store must hold for the message's URL. */
export interface ExpectedRecord {
  readonly status: "ok" | "failed";
  readonly code?: ErrorCode;
  readonly httpStatus?: number;
  /** The extracted page title (ok records). */
  readonly title?: string;
}

export interface ConformanceCase {
  /** The policy, used as the test name. */
  readonly policy: string;
  /** The runtime settings change under test, written over `BASE_SETTINGS`. */
  readonly settings?: SettingsDocument;
  readonly message: (site: PageSite) => CaseMessage;
  readonly answer: Answer;
  /** The one record expected under the message's URL; none when left out. */
  readonly record?: ExpectedRecord;
  /** Paths the page server must see, in order (robots.txt included); `[]` means nothing was fetched. */
  readonly requests: readonly string[];
}

const scrape =
  (host: string, path: string) =>
  (site: PageSite): CaseMessage => {
    const url = site.url(host, path);
    return { url, body: encodeMessage({ url }) };
  };

const raw =
  (body: string) =>
  (): CaseMessage => ({ body });

const METADATA_URL = "http://169.254.169.254/latest/meta-data/iam/security-credentials/";

export const CASES: readonly ConformanceCase[] = [
  {
    policy: "a good page is done, with one ok record carrying its title",
    message: scrape("shop.example", SITE_PATHS.good),
    answer: "done",
    record: { status: "ok", httpStatus: 200, title: GOOD_TITLE },
    requests: [SITE_PATHS.good],
  },
  {
    policy: "a 404 is done, with one failed record (http_4xx)",
    message: scrape("news.example", SITE_PATHS.gone),
    answer: "done",
    record: { status: "failed", code: "http_4xx", httpStatus: 404 },
    requests: [SITE_PATHS.gone],
  },
  {
    policy: "a 503 is redelivered, with no record",
    message: scrape("busy.example", SITE_PATHS.busy),
    answer: "redelivered",
    requests: [SITE_PATHS.busy],
  },
  {
    policy: "a 429 with Retry-After is redelivered, with no record",
    message: scrape("limits.example", SITE_PATHS.rateLimited),
    answer: "redelivered",
    requests: [SITE_PATHS.rateLimited],
  },
  {
    policy: "the metadata address (169.254.169.254) is refused with the private-network switch on: done, failed record ssrf_refused, nothing contacted",
    message: () => ({ url: METADATA_URL, body: encodeMessage({ url: METADATA_URL }) }),
    answer: "done",
    record: { status: "failed", code: "ssrf_refused" },
    requests: [],
  },
  {
    policy: "a body that is not JSON heads to the dead-letter path, with no record",
    message: raw("{url: http://shop.example/good"),
    answer: "dead-lettered",
    requests: [],
  },
  {
    policy: "JSON without a url heads to the dead-letter path, with no record",
    message: raw(JSON.stringify({ v: 1, id: "job-7" })),
    answer: "dead-lettered",
    requests: [],
  },
  {
    policy: "the kill switch (enabled: false) sends the message back: nothing fetched, no record",
    settings: { enabled: false },
    message: scrape("paused.example", SITE_PATHS.good),
    answer: "redelivered",
    requests: [],
  },
  {
    policy: "a host in blockedDomains is done with a failed record (domain_blocked), nothing fetched",
    settings: { blockedDomains: ["blocked.example"] },
    message: scrape("blocked.example", SITE_PATHS.good),
    answer: "done",
    record: { status: "failed", code: "domain_blocked" },
    requests: [],
  },
  {
    policy: "respectRobots: true with a robots.txt disallowing the path is done with a failed record (robots_disallowed); only robots.txt is fetched",
    settings: { respectRobots: true },
    message: scrape("robots.example", SITE_PATHS.disallowed),
    answer: "done",
    record: { status: "failed", code: "robots_disallowed" },
    requests: [SITE_PATHS.robots],
  },
  {
    policy: "allowedContentTypes: [text/html] refuses an image: done, failed record (content_type_not_allowed)",
    settings: { allowedContentTypes: ["text/html"] },
    message: scrape("images.example", SITE_PATHS.photo),
    answer: "done",
    record: { status: "failed", code: "content_type_not_allowed" },
    requests: [SITE_PATHS.photo],
  },
  {
    // The image above is refused by the defaults too; XHTML is allowed by them, so this case fails if the change does not arrive.
    policy: "allowedContentTypes: [text/html] refuses XHTML, which the defaults allow: done, failed record (content_type_not_allowed)",
    settings: { allowedContentTypes: ["text/html"] },
    message: scrape("xhtml.example", SITE_PATHS.xhtml),
    answer: "done",
    record: { status: "failed", code: "content_type_not_allowed" },
    requests: [SITE_PATHS.xhtml],
  },
  {
    policy: "XHTML with the default allowedContentTypes is done, with an ok record (control for the case above)",
    message: scrape("xhtml-default.example", SITE_PATHS.xhtml),
    answer: "done",
    record: { status: "ok", httpStatus: 200, title: XHTML_TITLE },
    requests: [SITE_PATHS.xhtml],
  },
];
