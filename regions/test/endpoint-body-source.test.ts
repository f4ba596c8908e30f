import { describe, expect, it } from "vitest";
import { Limits } from "@ferry/core";
import { BodySource } from "../src/endpoints/body-source.ts";
import { readHeadLine } from "../src/endpoints/head-line.ts";

const streamOf = (...chunks: Uint8Array[]) => new ReadableStream<Uint8Array>({
  start(ctl) {
    for (const c of chunks) ctl.enqueue(c);
    ctl.close();
  },
});

describe("endpoint request bodies in the region", () => {
  it("the head line is split from the body; the body's first bytes in the same chunk are kept", async () => {
    const enc = new TextEncoder();
    const { line, leftover, reader } = await readHeadLine(streamOf(enc.encode('{"method":"PO'), enc.encode('ST"}\nab'), enc.encode("cd")));
    expect(JSON.parse(line)).toEqual({ method: "POST" });
    const source = new BodySource(reader, leftover);
    expect(Buffer.from(await source.readAll() as Uint8Array).toString()).toBe("abcd");
  });

  it("hands out pieces of at most endpointBodyChunkBytes, then the end", async () => {
    const big = new Uint8Array(Limits.endpointBodyChunkBytes * 2 + 10).fill(7);
    const source = new BodySource(streamOf(big).getReader(), undefined);
    const sizes: number[] = [];
    for (;;) {
      const p = await source.next();
      if ("error" in p) throw new Error(p.message);
      if (p.eof) break;
      sizes.push(p.data.byteLength);
    }
    expect(sizes).toEqual([Limits.endpointBodyChunkBytes, Limits.endpointBodyChunkBytes, 10]);
    expect(source.bytesRead).toBe(big.byteLength);
  });

  it("a streamed body past its limit answers too-large from then on, naming the limit", async () => {
    const source = new BodySource(streamOf(new Uint8Array(600), new Uint8Array(600)).getReader(), undefined, 1000);
    expect(await source.next()).toMatchObject({ eof: false });
    const over = await source.next();
    expect(over).toEqual({ error: "too-large", message: "request body over 1000 bytes (maxEndpointBodyBytes)" });
    expect(await source.next()).toEqual(over);
    expect(source.tooLarge).toBe(true);
  });
});
