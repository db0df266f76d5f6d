// Where log lines go: stdout, batched. Lines written during one event-loop turn leave in one write after it, so a busy
// gateway makes one syscall per turn instead of one per line, and a request never waits on a write.
import { writeSync } from "node:fs";

export interface Sink {
  write(line: string): void;
  /** Write everything buffered now, synchronously (shutdown, exit). */
  flush(): void;
}

/** Past this many buffered bytes the batch goes out at once rather than waiting for the end of the turn. */
const MAX_BUFFER = 256 * 1024;

let shared: Sink | undefined;

/** The process's stdout sink (one per process: loggers share it, so lines from several never interleave mid-line). */
export function stdoutSink(): Sink {
  return (shared ??= batchedSink(1));
}

function batchedSink(fd: number): Sink {
  let buf = "";
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (!buf) return;
    const out = buf;
    buf = "";
    writeAll(fd, out);
  };
  // Lines still buffered when the process exits (process.exit after shutdown, a crash) are written, not dropped.
  process.on("exit", flush);
  return {
    write(line) {
      buf += line;
      if (buf.length >= MAX_BUFFER) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}

/**
 * A blocking write: a plain pipe or file takes it whole (a consumer that stops reading slows logging down rather than
 * growing memory without bound).
 */
function writeAll(fd: number, text: string) {
  const bytes = Buffer.from(text);
  let off = 0;
  try {
    while (off < bytes.length) off += writeSync(fd, bytes, off);
  } catch (e) {
    // EAGAIN: stdout is non-blocking (a TTY, a socket), let Bun's writer queue the rest. Anything else (EPIPE: the
    // reader is gone) drops the batch: losing log lines must never take the gateway down.
    if ((e as NodeJS.ErrnoException).code === "EAGAIN") process.stdout.write(bytes.subarray(off));
  }
}
