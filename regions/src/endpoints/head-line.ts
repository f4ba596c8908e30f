/** Longest head line the edge may send before a request's body (its method, URL and headers as JSON). */
export const MAX_HEAD_LINE_BYTES = 1024 * 1024;

/**
 * Split a stream into its first line (the request head, JSON) and the rest (the body). The bytes
 * after the newline in the chunk that held it come back as `leftover`, to be read before `reader`.
 *
 * @example
 * ```ts
 * const { line, leftover, reader } = await readHeadLine(request.body!);
 * const head = JSON.parse(line);
 * ```
 */
export const readHeadLine = async (body: ReadableStream<Uint8Array>): Promise<{ line: string; leftover: Uint8Array | undefined; reader: ReadableStreamDefaultReader<Uint8Array> }> => {
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const r = await reader.read();
    if (r.done) throw new Error("the request ended before its head line");
    const nl = r.value.indexOf(10);
    if (nl < 0) {
      parts.push(r.value);
      size += r.value.byteLength;
      if (size > MAX_HEAD_LINE_BYTES) throw new Error(`the request head is over ${MAX_HEAD_LINE_BYTES} bytes`);
      continue;
    }
    parts.push(r.value.subarray(0, nl));
    const leftover = nl + 1 < r.value.byteLength ? r.value.subarray(nl + 1) : undefined;
    return { line: Buffer.concat(parts).toString("utf8"), leftover, reader };
  }
};
