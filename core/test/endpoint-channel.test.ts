import { describe, expect, it } from "vitest";
import { EndpointFrame, FrameWriter, type FrameSink } from "../src/endpoints/endpoint-frames.ts";
import { headReader, LocalChannel, SocketChannel } from "../src/endpoints/endpoint-channel.ts";
import { inProcessDoors, type InProcessDoor } from "../src/endpoints/in-process-doors.ts";

interface Got { type: number; stream: number; data: string; head: unknown }

const sink = (): FrameSink & { bytes: Buffer[] } => {
  const bytes: Buffer[] = [];
  return { bytes, destroyed: false, write: (c) => (bytes.push(Buffer.from(c)), true) };
};

describe("fast path channels", () => {
  it("over a socket, heads of request and head messages arrive decoded, other messages as bytes", async () => {
    const out = sink();
    const channel = new SocketChannel(new FrameWriter(out));
    channel.send(EndpointFrame.request, 3, Buffer.from("body"), { functionId: "fn-1", method: "POST", url: "http://x/", headers: [], body: "inline" });
    channel.send(EndpointFrame.head, 3, undefined, { status: 204, headers: [["x-a", "b"]], end: true });
    channel.send(EndpointFrame.error, 4, "cut short");
    await new Promise((r) => setImmediate(r));
    const got: Got[] = [];
    headReader((type, stream, data, head) => got.push({ type, stream, data: data.toString(), head })).push(Buffer.concat(out.bytes));
    expect(got).toEqual([
      { type: EndpointFrame.request, stream: 3, data: "body", head: { functionId: "fn-1", method: "POST", url: "http://x/", headers: [], body: "inline" } },
      { type: EndpointFrame.head, stream: 3, data: "", head: { status: 204, headers: [["x-a", "b"]], end: true } },
      { type: EndpointFrame.error, stream: 4, data: "cut short", head: undefined },
    ]);
  });

  it("in memory, messages arrive in order after send returns (never during it), heads as the objects sent", async () => {
    const [edge, agent] = LocalChannel.pair();
    const got: Got[] = [];
    agent.onMessage = (type, stream, data, head) => got.push({ type, stream, data: data.toString(), head });
    const head = { functionId: "fn-1", method: "GET", url: "http://x/", headers: [["a", "b"]], body: "none" };
    edge.send(EndpointFrame.request, 1, undefined, head);
    edge.send(EndpointFrame.bodyPiece, 1, new Uint8Array([104, 105]));
    edge.send(EndpointFrame.bodyError, 1, "why");
    expect(got).toEqual([]);
    await Promise.resolve();
    expect(got).toEqual([
      { type: EndpointFrame.request, stream: 1, data: "", head },
      { type: EndpointFrame.bodyPiece, stream: 1, data: "hi", head: undefined },
      { type: EndpointFrame.bodyError, stream: 1, data: "why", head: undefined },
    ]);
    expect(got[0]!.head).toBe(head);
  });

  it("closing one end closes both, once each; what was sent before the close still arrives, nothing after", async () => {
    const [edge, agent] = LocalChannel.pair();
    const got: number[] = [];
    let edgeClosed = 0;
    let agentClosed = 0;
    agent.onMessage = (type) => got.push(type);
    edge.onClose = () => edgeClosed++;
    agent.onClose = () => agentClosed++;
    edge.send(EndpointFrame.ack, 1);
    edge.close();
    edge.close();
    edge.send(EndpointFrame.cancel, 1);
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual([EndpointFrame.ack]);
    expect([edgeClosed, agentClosed]).toEqual([1, 1]);
    expect(agent.closed).toBe(true);
    agent.send(EndpointFrame.busy, 1);
  });

  it("an in-process door is found only by its agent id, address and the platform's internal token", () => {
    const door: InProcessDoor = { agentId: "ag-test-door", address: "127.0.0.1:4001", internalToken: "secret-token", connect: () => {} };
    inProcessDoors.add(door);
    try {
      expect(inProcessDoors.find("ag-test-door", "127.0.0.1:4001", "secret-token")).toBe(door);
      expect(inProcessDoors.find("ag-test-door", "127.0.0.1:4001", "secret-tokeN")).toBeUndefined();
      expect(inProcessDoors.find("ag-test-door", "127.0.0.1:4002", "secret-token")).toBeUndefined();
      expect(inProcessDoors.find("ag-other", "127.0.0.1:4001", "secret-token")).toBeUndefined();
    } finally {
      inProcessDoors.remove(door);
    }
    expect(inProcessDoors.find("ag-test-door", "127.0.0.1:4001", "secret-token")).toBeUndefined();
  });
});
