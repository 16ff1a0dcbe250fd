/**
 * Which pages are being fetched right now, so that a stop can tell a page whose
 * request is already out (let it finish: dropping it would only mean fetching
 * it again) from one still waiting for robots.txt or for its host's slot
 * (hand it back to the queue at once).
 *
 * The worker says nothing about where a message is, so this watches the one
 * place that shows it: the fetcher the worker is given.
 */
import type { FetchOptions, FetchedPage, PageFetcher } from "../../shared/page";

export class PageFetches {
  /** Page fetches under way, by the URL handed to the fetcher (the message URL's `href`). */
  private readonly active = new Map<string, number>();

  /** `fetcher`, noting every page fetch from its start to its end (robots.txt fetches are not pages). */
  track(fetcher: PageFetcher): PageFetcher {
    return {
      fetch: async (url: string, options: FetchOptions): Promise<FetchedPage> => {
        if (options.purpose !== "page") return fetcher.fetch(url, options);
        this.active.set(url, (this.active.get(url) ?? 0) + 1);
        try {
          return await fetcher.fetch(url, options);
        } finally {
          const left = (this.active.get(url) ?? 1) - 1;
          if (left > 0) this.active.set(url, left);
          else this.active.delete(url);
        }
      },
      close: () => fetcher.close(),
    };
  }

  /** Whether the page at `href` is being fetched now. */
  isFetching(href: string): boolean {
    return this.active.has(href);
  }

  /** Pages being fetched now. */
  get size(): number {
    return this.active.size;
  }
}
