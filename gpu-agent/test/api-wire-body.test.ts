import { describe, expect, it } from "vitest";
import { fromWireBody, isTextContentType, toWireBody, wireBodyBytes } from "../src/runner/api-wire-body.ts";
import { lineSplitter } from "../src/runner/runner-protocol.ts";

const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);

describe("API bridge bodies on the fd-3 wire", () => {
  it("text travels as the same string: the JSON path is untouched", () => {
    const json = JSON.stringify({ key: "k", value: "é✓" });
    expect(toWireBody(json)).toBe(json);
    expect(fromWireBody(json)).toBe(json);
  });

  it("bytes travel as base64 and come back byte for byte, all 256 values", () => {
    const wire = toWireBody(ALL_BYTES);
    expect(wire).toEqual({ base64: Buffer.from(ALL_BYTES).toString("base64") });
    // Through a JSON line, as on fd 3.
    const back = fromWireBody(JSON.parse(JSON.stringify({ body: wire })).body);
    expect(back).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(back as Uint8Array).equals(Buffer.from(ALL_BYTES))).toBe(true);
  });

  it("a view into a larger buffer sends only its own bytes", () => {
    const view = new Uint8Array([9, 9, 1, 2, 3, 9]).subarray(2, 5);
    expect(fromWireBody(toWireBody(view))).toEqual(new Uint8Array([1, 2, 3]));
  });

  it("empty bytes are an empty body, not an absent one", () => {
    expect(toWireBody(new Uint8Array(0))).toEqual({ base64: "" });
    expect(fromWireBody({ base64: "" })).toEqual(new Uint8Array(0));
  });

  it("anything else on the wire is malformed (undefined)", () => {
    for (const bad of [undefined, null, 42, { base64: 1 }, { data: "AA==" }, ["AA=="]]) expect(fromWireBody(bad), JSON.stringify(bad)).toBeUndefined();
  });

  it("wireBodyBytes counts what the body stands for, without decoding base64", () => {
    expect(wireBodyBytes("é")).toBe(2);
    for (let n = 0; n < 10; n++) {
      const bytes = ALL_BYTES.subarray(0, n);
      expect(wireBodyBytes(toWireBody(bytes)), `${n} bytes`).toBe(n);
    }
  });

  it("JSON, NDJSON and text answers are relayed as text; everything else as bytes", () => {
    for (const ct of ["application/json", "application/json; charset=utf-8", "application/x-ndjson", "text/plain", "application/problem+json", "", null, undefined]) {
      expect(isTextContentType(ct), String(ct)).toBe(true);
    }
    for (const ct of ["application/octet-stream", "image/png", "application/gzip"]) expect(isTextContentType(ct), ct).toBe(false);
  });
});

describe("lineSplitter (the fd-3 line reader)", () => {
  const collect = (chunks: ReadonlyArray<Buffer | string>) => {
    const lines: string[] = [];
    const split = lineSplitter((l) => lines.push(l));
    for (const c of chunks) split(c);
    return lines;
  };

  it("splits several lines in one chunk and keeps a partial tail for the next", () => {
    expect(collect(['{"a":1}\n{"b"', ':2}\n{"c":3}\n', '{"d"'])).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it("a UTF-8 character cut between two chunks is decoded whole", () => {
    const line = Buffer.from('{"x":"héllo ✓"}\n');
    expect(collect(Array.from(line, (_, i) => line.subarray(i, i + 1)))).toEqual(['{"x":"héllo ✓"}']);
  });

  it("a line of many MiB in 64 KiB chunks is joined once: linear, not quadratic", () => {
    const line = Buffer.from(`${JSON.stringify({ t: "api_res", body: { base64: "A".repeat(40 * 1024 * 1024) } })}\n`);
    const started = performance.now();
    const lines = collect(Array.from({ length: Math.ceil(line.length / 65536) }, (_, i) => line.subarray(i * 65536, (i + 1) * 65536)));
    expect(lines).toHaveLength(1);
    expect(lines[0]!.length).toBe(line.length - 1);
    // The old reader re-split the whole tail on every chunk: about 10 s for 40 MiB; this takes well under 1 s.
    expect(performance.now() - started).toBeLessThan(3_000);
  });
});
