import { describe, expect, it } from "vitest";
import { decodeHeadPayload, encodeFrame, encodeHeadFrame, EndpointFrame, FrameReader, FrameWriter, MAX_FRAME_PAYLOAD_BYTES } from "../src/endpoints/endpoint-frames.ts";

const collect = () => {
  const frames: Array<{ type: number; stream: number; payload: Buffer }> = [];
  const reader = new FrameReader((type, stream, payload) => frames.push({ type, stream, payload: Buffer.from(payload) }));
  return { frames, reader };
};

describe("endpoint frames", () => {
  it("a head frame carries its JSON head and body bytes; a chunk frame its bytes", () => {
    const { frames, reader } = collect();
    reader.push(Buffer.concat([
      encodeHeadFrame(EndpointFrame.head, 7, { status: 201, headers: [["x-a", "b"]], end: true }, Buffer.from("hello")),
      encodeFrame(EndpointFrame.chunk, 8, Buffer.from([0, 1, 2, 255])),
      encodeFrame(EndpointFrame.end, 8),
    ]));
    expect(frames.map((f) => [f.type, f.stream])).toEqual([[EndpointFrame.head, 7], [EndpointFrame.chunk, 8], [EndpointFrame.end, 8]]);
    const { head, data } = decodeHeadPayload<{ status: number }>(frames[0]!.payload);
    expect(head).toEqual({ status: 201, headers: [["x-a", "b"]], end: true });
    expect(Buffer.from(data).toString()).toBe("hello");
    expect([...frames[1]!.payload]).toEqual([0, 1, 2, 255]);
    expect(frames[2]!.payload.byteLength).toBe(0);
  });

  it("frames cut at any byte are reassembled whole, in order", () => {
    const bytes = Buffer.concat([
      encodeFrame(EndpointFrame.bodyPiece, 1, Buffer.alloc(1000, 7)),
      encodeFrame(EndpointFrame.fail, 2, JSON.stringify({ status: 502, type: "X", message: "ünïcode" })),
      encodeFrame(EndpointFrame.pull, 3),
    ]);
    for (const step of [1, 3, 9, 500]) {
      const { frames, reader } = collect();
      for (let at = 0; at < bytes.byteLength; at += step) reader.push(bytes.subarray(at, at + step));
      expect(frames.map((f) => f.stream)).toEqual([1, 2, 3]);
      expect(frames[0]!.payload.equals(Buffer.alloc(1000, 7))).toBe(true);
      expect(JSON.parse(frames[1]!.payload.toString()).message).toBe("ünïcode");
    }
  });

  it("a frame longer than MAX_FRAME_PAYLOAD_BYTES is a protocol error", () => {
    const header = Buffer.alloc(9);
    header.writeUInt32BE(MAX_FRAME_PAYLOAD_BYTES + 6, 0);
    expect(() => new FrameReader(() => {}).push(header)).toThrow(/bad frame length/);
  });

  it("a FrameWriter sends the frames queued in one turn as one write", async () => {
    const writes: Uint8Array[] = [];
    const out = new FrameWriter({ destroyed: false, write: (c) => writes.push(c) > 0 });
    out.send(encodeFrame(EndpointFrame.ack, 1));
    out.send(encodeFrame(EndpointFrame.ack, 2));
    expect(writes).toHaveLength(0);
    await new Promise((r) => setImmediate(r));
    expect(writes).toHaveLength(1);
    const { frames, reader } = collect();
    reader.push(Buffer.from(writes[0]!));
    expect(frames.map((f) => f.stream)).toEqual([1, 2]);
  });
});
