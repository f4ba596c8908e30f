/**
 * The lines of a byte stream of NDJSON, decoded as UTF-8 across chunk boundaries; a last line
 * without its newline is yielded too. Empty lines are skipped.
 *
 * @example
 * ```ts
 * for await (const line of ndjsonLines(res.body)) console.log(JSON.parse(line));
 * ```
 */
export async function* ndjsonLines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let tail = "";
  for await (const chunk of chunks) {
    const lines = (tail + decoder.decode(chunk, { stream: true })).split("\n");
    tail = lines.pop() ?? "";
    for (const line of lines) if (line) yield line;
  }
  tail += decoder.decode();
  if (tail) yield tail;
}
