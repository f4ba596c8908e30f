import { describe, expect, it } from "vitest";
import { outputStream } from "../src/sandboxes/exec-output-stream.ts";
import { ndjsonLines } from "../src/sandboxes/ndjson-lines.ts";

async function* chunks(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p;
}

describe("NDJSON lines", () => {
  it("are split across chunks, with UTF-8 characters cut between chunks kept whole", async () => {
    const bytes = new TextEncoder().encode('{"a":"é"}\n\n{"b":"ü');
    const tail = new TextEncoder().encode('"}');
    const lines: string[] = [];
    // Cut inside the two-byte "é".
    for await (const l of ndjsonLines(chunks(bytes.subarray(0, 7), bytes.subarray(7), tail))) lines.push(l);
    expect(lines).toEqual(['{"a":"é"}', '{"b":"ü"}']);
  });
});

describe("exec output streams", () => {
  it("are async iterable text streams, and readText gathers the rest", async () => {
    const a = outputStream();
    a.push("one ");
    a.push("two");
    a.close();
    a.push("ignored after close");
    expect(await a.stream.readText()).toBe("one two");
    const b = outputStream();
    b.push("x");
    b.push("y");
    b.close();
    const seen: string[] = [];
    for await (const chunk of b.stream) seen.push(chunk);
    expect(seen).toEqual(["x", "y"]);
  });

  it("fail their reader when the exec's connection is lost", async () => {
    const s = outputStream();
    s.push("partial");
    s.fail(new Error("lost the connection"));
    await expect(s.stream.readText()).rejects.toThrow("lost the connection");
  });
});
