/**
 * A results store in memory, so a test can read back every write the worker
 * makes, and can make writes fail as an outage would.
 */
import type { PutOptions, ResultStore, StoredObject } from "../../shared/ports";
import { resultKey, type ResultRecord } from "../../shared/result";

export class MemoryResultStore implements ResultStore {
  readonly objects = new Map<string, StoredObject>();
  /** Every write fails while this is set. */
  failing = false;
  /** How many of the next writes fail. */
  failNext = 0;

  async put(object: StoredObject): Promise<void> {
    if (this.failing || this.failNext > 0) {
      this.failNext = Math.max(0, this.failNext - 1);
      throw new Error("the results store is unavailable");
    }
    this.objects.set(object.key, object);
  }

  /** The result record stored for `url`, if any. */
  record(url: string): ResultRecord | undefined {
    const object = this.objects.get(resultKey(url));
    return object === undefined ? undefined : (JSON.parse(String(object.body)) as ResultRecord);
  }
}

/** The memory store, except that a write under `stalledKey` never finishes on its own: it ends only when its abort signal fires. */
export class StallingStore extends MemoryResultStore {
  constructor(private readonly stalledKey: string) {
    super();
  }

  override async put(object: StoredObject, options?: PutOptions): Promise<void> {
    if (object.key === this.stalledKey) {
      await new Promise<never>((_resolve, reject) => options?.signal?.addEventListener("abort", () => reject(new Error("write cancelled")), { once: true }));
    }
    return super.put(object);
  }
}
