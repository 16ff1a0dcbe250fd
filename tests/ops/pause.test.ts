/**
 * The order of `fleet pause` and `fleet resume`, the same on every backend:
 * no message is delivered to a worker that would only send it back.
 */
import assert from "node:assert/strict";
import { pauseFleet, resumeFleet } from "../../ops/backend";
import type { StoredSettings } from "../../ops/backend";
import { RecordingBackend } from "./support";

/** A backend that logs its trigger and settings changes in order. */
class OrderedBackend extends RecordingBackend {
  readonly log: string[] = [];
  private document: Record<string, unknown> = { concurrency: 8 };
  async setTrigger(running: boolean): Promise<void> {
    this.log.push(`trigger ${running ? "running" : "stopped"}`);
  }
  async readSettings(): Promise<StoredSettings> {
    return { document: { ...this.document } };
  }
  async writeSettings(document: Readonly<Record<string, unknown>>): Promise<StoredSettings> {
    this.document = { ...document };
    this.log.push(`enabled ${String(document.enabled)}`);
    return { document };
  }
}

describe("pause and resume", () => {
  it("pause stops the trigger before writing enabled: false; resume writes enabled: true before the trigger runs again; neither rewrites what holds", async () => {
    const backend = new OrderedBackend();
    await pauseFleet(backend);
    await pauseFleet(backend);
    await resumeFleet(backend);
    assert.deepEqual(backend.log, ["trigger stopped", "enabled false", "trigger stopped", "enabled true", "trigger running"]);
  });
});
