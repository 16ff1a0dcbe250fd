/** A `CommandIo` whose output is kept in strings, for calling a command's `run` directly. */
import { tmpdir } from "node:os";
import { PassThrough, Writable } from "node:stream";
import type { CommandIo } from "../../ops/command";

export interface CapturedIo extends CommandIo {
  readonly out: () => string;
  readonly err: () => string;
}

export function captureIo(cwd: string = tmpdir()): CapturedIo {
  let out = "";
  let err = "";
  const sink = (append: (text: string) => void) =>
    new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        append(chunk.toString());
        done();
      },
    });
  return {
    stdin: new PassThrough(),
    stdout: sink((text) => (out += text)),
    stderr: sink((text) => (err += text)),
    env: {},
    cwd,
    signal: new AbortController().signal,
    out: () => out,
    err: () => err,
  };
}
