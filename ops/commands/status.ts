/**
 * `fleet status [--watch]`: one screen of the fleet's health, from the queue's
 * and the metrics service's own APIs; `--json` for scripts.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { EXIT_HELP, TARGET_HELP, integerFlag, parseCommandArgs } from "../args";
import type { FleetStatus } from "../backend";
import { OPS_EXIT_CODES, type FleetCommand } from "../command";
import { guarded, printHelp, printJson, withBackend } from "../run";

const HELP = `usage: npm run fleet -- status (--stack NAME | --outputs FILE | --local DIR) [--watch [--interval SECONDS]] [--window MINUTES] [--json]

Shows the work queue's backlog, messages in flight, the oldest message's age,
the dead letters, pages per minute, outcome shares and the average time to
fetch a page over the last minutes, and whether the fleet is running or paused (the trigger and the settings'
\`enabled\`).

Options:
  --watch            redraw every 10 s until Ctrl-C
  --interval SECONDS with --watch: seconds between redraws, 2 to 3600 (default 10)
  --window MINUTES   minutes the rate and outcome shares cover, 1 to 1440 (default 15)
  --json             print the figures as one JSON object (with --watch: one per line)

${TARGET_HELP}

${EXIT_HELP}`;

export const statusCommand: FleetCommand = {
  name: "status",
  summary: "backlog, in flight, oldest age, dead letters, rate, outcomes, paused or not",
  help: HELP,
  run: (args, io) =>
    guarded("status", io, async () => {
      const { values } = parseCommandArgs("status", args, {
        watch: { type: "boolean" },
        interval: { type: "string" },
        window: { type: "string" },
        json: { type: "boolean" },
      });
      if (values.help) return printHelp(io, HELP);
      const intervalSeconds = integerFlag("interval", values.interval, { min: 2, max: 3_600 }, 10) as number;
      const windowMinutes = integerFlag("window", values.window, { min: 1, max: 1_440 }, 15) as number;
      return withBackend(values, io, {}, async (backend) => {
        for (;;) {
          const status = await backend.status(windowMinutes);
          if (values.json) {
            if (values.watch) io.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...status })}\n`);
            else printJson(io, status);
          } else {
            // ESC[H ESC[2J: cursor home and clear screen, so --watch redraws one screen (ECMA-48 CUP, ED).
            const clear = values.watch && io.stderr.isTTY ? "\x1b[H\x1b[2J" : "";
            io.stdout.write(`${clear}${renderStatus(backend.description, status)}\n`);
          }
          if (!values.watch) return OPS_EXIT_CODES.ok;
          try {
            await sleep(intervalSeconds * 1_000, undefined, { signal: io.signal });
          } catch {
            return OPS_EXIT_CODES.ok;
          }
        }
      });
    }),
};

export function renderStatus(target: string, status: FleetStatus): string {
  const running = status.triggerEnabled && status.settingsEnabled;
  const state = running
    ? "running"
    : `PAUSED (${[status.triggerEnabled ? undefined : "trigger stopped", status.settingsEnabled ? undefined : "settings enabled: false"].filter(Boolean).join(", ")}); \`fleet resume\` restarts it`;
  const outcomes = status.outcomes ?? {};
  const total = Object.values(outcomes).reduce((sum, count) => sum + count, 0);
  const shares = Object.entries(outcomes)
    .map(([name, count]) => `${name} ${count}${total > 0 ? ` (${Math.round((count / total) * 100)}%)` : ""}`)
    .join(" · ");
  const row = (label: string, value: string): string => `  ${label.padEnd(16)}${value}`;
  return [
    `${target}: ${state}`,
    row("backlog", String(status.backlog)),
    row("in flight", status.inFlight === undefined ? "–" : String(status.inFlight)),
    row("oldest waiting", status.oldestAgeSeconds === undefined ? "–" : formatAge(status.oldestAgeSeconds)),
    row("dead letters", String(status.deadLetters)),
    row("pages/min", status.pagesPerMinute === undefined ? "–" : `${status.pagesPerMinute.toFixed(1)} (last ${status.windowMinutes} min)`),
    row("outcomes", `${shares || "–"} (last ${status.windowMinutes} min)`),
    row("fetch time", status.fetchLatency === undefined ? "–" : `${Math.round(status.fetchLatency.averageMs)} ms a page, average of ${status.fetchLatency.pages} (last ${status.windowMinutes} min)`),
    ...(status.unread ?? []).map((note) => row("not read", note)),
  ].join("\n");
}

function formatAge(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7_200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3_600).toFixed(1)} h`;
}
