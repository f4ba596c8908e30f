/**
 * A process's stdout or stderr as it arrives: a web `ReadableStream` of text chunks (async
 * iterable on Node, Bun and Deno), plus `readText()` for all of it at once.
 *
 * @example
 * ```ts
 * for await (const chunk of p.stdout) process.stdout.write(chunk);
 * // or
 * const text = await p.stdout.readText();
 * ```
 */
export class ExecOutputStream extends ReadableStream<string> {
  /** The chunks as they come (defined here too, for runtimes and type libraries without it). */
  async *[Symbol.asyncIterator](): AsyncGenerator<string> {
    const reader = this.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  }

  /** Everything the stream has left, once the process closed it. */
  async readText(): Promise<string> {
    let text = "";
    for await (const chunk of this) text += chunk;
    return text;
  }
}

/** A stream and the handle that feeds it. */
export const outputStream = (): { stream: ExecOutputStream; push: (text: string) => void; close: () => void; fail: (e: Error) => void } => {
  let controller!: ReadableStreamDefaultController<string>;
  const stream = new ExecOutputStream({ start: (c) => void (controller = c) });
  let open = true;
  return {
    stream,
    push: (text) => open && controller.enqueue(text),
    close: () => {
      if (open) controller.close();
      open = false;
    },
    fail: (e) => {
      if (open) controller.error(e);
      open = false;
    },
  };
};
