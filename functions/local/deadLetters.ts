/**
 * `DIR/dead-letters.jsonl`: the dead-letter table as one JSON object per line,
 * for people and scripts. It is rebuilt whole from the table (atomically), so
 * however often a run is stopped and resumed it never holds a line twice.
 */
import { writeFileAtomic } from "./atomicFile";
import type { DeadLetter } from "./queue";

export const DEAD_LETTERS_FILE = "dead-letters.jsonl";

/** One line's fields, in a fixed order. */
export interface DeadLetterLine {
  /** The URL, for a message that was delivered and never answered. */
  readonly url?: string;
  /** The line as written, for input that is not a URL. */
  readonly rawLine?: string;
  /** The URLs file (or `stdin`) and line the entry came from. */
  readonly source?: string;
  readonly line?: number;
  readonly code: string;
  readonly reason: string;
  /** Deliveries made; 0 for input that was never a message. */
  readonly attempts: number;
  /** When it was dead-lettered, ISO 8601. */
  readonly time: string;
}

export function toDeadLetterLine(letter: DeadLetter): DeadLetterLine {
  return {
    ...(letter.url === undefined ? {} : { url: letter.url }),
    ...(letter.rawLine === undefined ? {} : { rawLine: letter.rawLine }),
    ...(letter.origin === undefined ? {} : { source: letter.origin.source, line: letter.origin.line }),
    code: letter.code,
    reason: letter.reason,
    attempts: letter.attempts,
    time: new Date(letter.deadAt).toISOString(),
  };
}

export async function writeDeadLetters(path: string, letters: readonly DeadLetter[]): Promise<void> {
  await writeFileAtomic(path, letters.map((letter) => `${JSON.stringify(toDeadLetterLine(letter))}\n`).join(""));
}
