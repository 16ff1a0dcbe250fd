/**
 * Ctrl-C handling: the first SIGINT (or SIGTERM) asks the run to stop once the
 * pages being fetched have finished (the others go back to the queue at once);
 * a second one stops at once. Either way the queue keeps everything unfinished
 * for the next run.
 */
import { EXIT_CODES, type ExitCode } from "./errors";

export type StopSignal = "SIGINT" | "SIGTERM";

/** Where signals are heard: `process`, or a test's emitter. */
export interface SignalSource {
  on(event: StopSignal, listener: (signal: NodeJS.Signals) => void): unknown;
  off(event: StopSignal, listener: (signal: NodeJS.Signals) => void): unknown;
}

export interface StopSignals {
  /** Aborted at the first signal. */
  readonly signal: AbortSignal;
  /** Resolves at the second signal. */
  readonly forced: Promise<"forced">;
  /** 130 after SIGINT, 143 after SIGTERM (128 + the signal number, as shells report). */
  exitCode(): ExitCode;
  dispose(): void;
}

export function listenForStop(source: SignalSource, onFirst: (signal: NodeJS.Signals) => void): StopSignals {
  const controller = new AbortController();
  let exitCode: ExitCode = EXIT_CODES.interrupted;
  let force: () => void = () => undefined;
  const forced = new Promise<"forced">((resolve) => (force = () => resolve("forced")));
  const listener = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      force();
      return;
    }
    exitCode = signal === "SIGTERM" ? EXIT_CODES.terminated : EXIT_CODES.interrupted;
    controller.abort();
    onFirst(signal);
  };
  source.on("SIGINT", listener);
  source.on("SIGTERM", listener);
  return {
    signal: controller.signal,
    forced,
    exitCode: () => exitCode,
    dispose: () => {
      source.off("SIGINT", listener);
      source.off("SIGTERM", listener);
    },
  };
}
