/**
 * Ctrl-C handling: the first SIGINT (or SIGTERM) asks the run to stop once the
 * pages being fetched have finished (the others go back to the queue at once);
 * a second one stops at once. Either way the queue keeps everything unfinished
 * for the next run.
 *
 * How signals reach the fleet under `npm start` (and every npm script that
 * runs a long-lived command: `npm run demo`, `npm run fleet`). npm runs a
 * script as `sh -c "<script>"` and forwards SIGINT and SIGTERM to that child,
 * then exits with the child's exit code (@npmcli/run-script,
 * https://github.com/npm/run-script/blob/main/lib/signal-manager.js). Three
 * consequences shape the scripts in package.json:
 * - dash (Debian's and Ubuntu's /bin/sh) stays as the parent of the command
 *   and dies of the forwarded SIGTERM without passing it on, leaving the fleet
 *   orphaned and holding its directory; so each script starts with `exec`,
 *   making the fleet npm's direct child: npm's forwarded signal reaches it, and
 *   npm's exit code is the fleet's (measured with npm 11).
 * - the `tsx` command is itself a wrapper that relays signals to a child node
 *   and kills it soon after, so one Ctrl-C acted as two; so the scripts run
 *   `node --import tsx`, one process.
 * - a Ctrl-C at a terminal goes to the whole foreground process group, npm
 *   included, and npm forwards it again: the fleet hears the same keypress
 *   twice, milliseconds apart. So a repeat within `ECHO_WINDOW_MS` of the first
 *   signal counts as the same one; a deliberate second Ctrl-C comes later.
 */
import { EXIT_CODES, type ExitCode } from "./errors";

export type StopSignal = "SIGINT" | "SIGTERM";

/**
 * A repeat this soon after the first signal is the same request delivered
 * twice (by the terminal and by npm's forwarding), not a second Ctrl-C. npm's
 * forward arrives within a few milliseconds; a second keypress a person means
 * comes after they have read the "press Ctrl-C again" line.
 */
export const ECHO_WINDOW_MS = 1_000;

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

export interface StopSignalOptions {
  /** @default ECHO_WINDOW_MS */
  readonly echoWindowMs?: number;
  /** Clock in ms. @default performance.now */
  readonly now?: () => number;
}

export function listenForStop(source: SignalSource, onFirst: (signal: NodeJS.Signals) => void, options: StopSignalOptions = {}): StopSignals {
  const echoWindowMs = options.echoWindowMs ?? ECHO_WINDOW_MS;
  const now = options.now ?? (() => performance.now());
  const controller = new AbortController();
  let exitCode: ExitCode = EXIT_CODES.interrupted;
  let firstAt = 0;
  let force: () => void = () => undefined;
  const forced = new Promise<"forced">((resolve) => (force = () => resolve("forced")));
  const listener = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      if (now() - firstAt >= echoWindowMs) force();
      return;
    }
    firstAt = now();
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
