// The warm fast path's wire: length-prefixed binary frames on one persistent TCP connection
// between an edge and an agent, many requests at once (each its own stream id). A frame is
//
//   u32 length (of what follows) · u8 type · u32 stream · payload
//
// A request or response head is `u32 jsonLength · JSON · first body bytes`; body pieces are raw
// bytes. The edge opens with `hello` (the internal token) and the agent answers `welcome`.

/** Frame types. Edge → agent: `hello` … `cancel`; agent → edge: `welcome`, `head` … `pull`. */
export const EndpointFrame = {
  /** Edge → agent, stream 0: `{ token }`, the platform's internal token. */
  hello: 1,
  /** Agent → edge, stream 0: `{ agentId }`: the token was right. */
  welcome: 2,
  /** A request: head (`FastRequestHead`) and, for a small body, all its bytes. */
  request: 3,
  /** The next request body piece the container pulled; `bodyEnd` carries the last bytes, if any. */
  bodyPiece: 4,
  bodyEnd: 5,
  /** The request body cannot go on (payload: why, UTF-8). */
  bodyError: 6,
  /** The client took the response piece sent before: the container may send one more. */
  ack: 7,
  /** The client went away: stop producing. */
  cancel: 8,
  /** The response head (`FastResponseHead`) and maybe its first bytes. */
  head: 10,
  chunk: 11,
  end: 12,
  /** The response was cut short after its head (payload: why, UTF-8). */
  error: 13,
  /** The request ended without a response head (`FastFailure`). */
  fail: 14,
  /** No container here has a free slot: nothing of the request was used, send it another way. */
  busy: 15,
  /** The handler reads its body: send the next piece. */
  pull: 16,
} as const;
export type EndpointFrameType = (typeof EndpointFrame)[keyof typeof EndpointFrame];

/** Bytes before a frame's payload: length, type, stream. */
export const FRAME_HEADER_BYTES = 9;
/** Largest payload a frame may carry (a body piece, or a head with its headers); more is a protocol error. */
export const MAX_FRAME_PAYLOAD_BYTES = 4 * 1024 * 1024;

/** A request's head on the fast path: the endpoint function, and what the handler's `Request` is built from. */
export interface FastRequestHead {
  readonly functionId: string;
  readonly method: string;
  readonly url: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** `inline`: the whole body follows the head in the frame; `stream`: pulled piece by piece. */
  readonly body: "none" | "inline" | "stream";
}

/** A response's head on the fast path; `end`: the bytes in the frame are the whole body. */
export interface FastResponseHead {
  readonly status: number;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly end?: boolean;
}

/** Why a request ended without a head, as the client is to hear it. */
export interface FastFailure {
  readonly status: number;
  readonly type: string;
  readonly message: string;
}

const EMPTY = new Uint8Array(0);

/**
 * One frame as bytes; `payload` a string is UTF-8.
 *
 * @example
 * ```ts
 * socket.write(encodeFrame(EndpointFrame.chunk, 7, bytes));
 * ```
 */
export const encodeFrame = (type: EndpointFrameType, stream: number, payload: Uint8Array | string = EMPTY): Buffer => {
  const size = typeof payload === "string" ? Buffer.byteLength(payload) : payload.byteLength;
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + size);
  buf.writeUInt32BE(size + 5, 0);
  buf.writeUInt8(type, 4);
  buf.writeUInt32BE(stream, 5);
  if (typeof payload === "string") buf.write(payload, FRAME_HEADER_BYTES);
  else buf.set(payload, FRAME_HEADER_BYTES);
  return buf;
};

/**
 * A frame whose payload is a JSON head then bytes (`request`, `head`).
 *
 * @example
 * ```ts
 * encodeHeadFrame(EndpointFrame.head, 7, { status: 200, headers: [], end: true }, bytes);
 * ```
 */
export const encodeHeadFrame = (type: EndpointFrameType, stream: number, head: unknown, data: Uint8Array = EMPTY): Buffer => {
  const json = JSON.stringify(head);
  const jsonSize = Buffer.byteLength(json);
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 4 + jsonSize + data.byteLength);
  buf.writeUInt32BE(5 + 4 + jsonSize + data.byteLength, 0);
  buf.writeUInt8(type, 4);
  buf.writeUInt32BE(stream, 5);
  buf.writeUInt32BE(jsonSize, FRAME_HEADER_BYTES);
  buf.write(json, FRAME_HEADER_BYTES + 4);
  if (data.byteLength > 0) buf.set(data, FRAME_HEADER_BYTES + 4 + jsonSize);
  return buf;
};

/**
 * Split a head frame's payload into its JSON head and the bytes after it.
 *
 * @example
 * ```ts
 * const { head, data } = decodeHeadPayload<FastResponseHead>(payload);
 * ```
 */
export const decodeHeadPayload = <T>(payload: Uint8Array): { head: T; data: Uint8Array } => {
  const view = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const size = view.readUInt32BE(0);
  if (size + 4 > view.byteLength) throw new Error("head frame shorter than its head");
  return { head: JSON.parse(view.toString("utf8", 4, 4 + size)) as T, data: view.subarray(4 + size) };
};

/**
 * Reassembles frames from a byte stream cut anywhere; calls `onFrame` for each whole frame
 * (its payload is only valid during the call unless copied). Throws on a frame over
 * `MAX_FRAME_PAYLOAD_BYTES`: the connection is broken and must be closed.
 *
 * @example
 * ```ts
 * const reader = new FrameReader((type, stream, payload) => handle(type, stream, payload));
 * socket.on("data", (chunk) => reader.push(chunk));
 * ```
 */
export class FrameReader {
  private pending: Buffer | undefined;
  private readonly onFrame: (type: number, stream: number, payload: Buffer) => void;

  constructor(onFrame: (type: number, stream: number, payload: Buffer) => void) {
    this.onFrame = onFrame;
  }

  push(chunk: Buffer): void {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    let at = 0;
    while (buf.byteLength - at >= 4) {
      const size = buf.readUInt32BE(at);
      if (size < 5 || size - 5 > MAX_FRAME_PAYLOAD_BYTES) throw new Error(`bad frame length ${size}`);
      if (buf.byteLength - at - 4 < size) break;
      const type = buf.readUInt8(at + 4);
      const stream = buf.readUInt32BE(at + 5);
      this.onFrame(type, stream, buf.subarray(at + FRAME_HEADER_BYTES, at + 4 + size));
      at += 4 + size;
    }
    if (at < buf.byteLength) this.pending = Buffer.from(buf.subarray(at));
  }
}

/** Where a `FrameWriter` writes: a socket (Node's `net.Socket` fits). */
export interface FrameSink {
  write(chunk: Uint8Array): boolean;
  readonly destroyed: boolean;
}

/**
 * Queues frames and writes them together once the current turn of the event loop is over:
 * under load, many requests' frames leave in one system call.
 *
 * @example
 * ```ts
 * const out = new FrameWriter(socket);
 * out.send(encodeFrame(EndpointFrame.ack, 7));
 * ```
 */
export class FrameWriter {
  private readonly sink: FrameSink;
  private queued: Buffer[] = [];
  private scheduled = false;

  constructor(sink: FrameSink) {
    this.sink = sink;
  }

  send(frame: Buffer): void {
    this.queued.push(frame);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  readonly flush = (): void => {
    this.scheduled = false;
    const frames = this.queued;
    this.queued = [];
    if (this.sink.destroyed || frames.length === 0) return;
    if (frames.length === 1) {
      this.sink.write(frames[0]!);
      return;
    }
    this.sink.write(Buffer.concat(frames));
  };
}
