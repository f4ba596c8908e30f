// The two ends of a fast path connection between an edge and an agent, whatever carries it:
// frames on a TCP connection (`SocketChannel`, `headReader`) when they are different processes,
// or plain objects handed over in memory (`localChannelPair`) when both live in one process (the
// local platform, `ferry up`): no socket, no framing, no JSON of heads, same messages and order.
import { decodeHeadPayload, EndpointFrame, encodeFrame, encodeHeadFrame, FrameReader, type EndpointFrameType, type FrameWriter } from "./endpoint-frames.ts";

/**
 * A message as a fast path end receives it: its type (`EndpointFrame`), stream, bytes, and for
 * `request` and `head` messages the decoded head. `data` is only valid during the call unless copied.
 */
export type FastMessageHandler = (type: number, stream: number, data: Buffer, head: unknown) => void;

/** One end of a fast path connection: sends messages to the other end, in order. */
export interface FastChannel {
  /** `head`: for `request` and `head` messages; `data` a string is UTF-8. */
  send(type: EndpointFrameType, stream: number, data?: Uint8Array | string, head?: object): void;
}

// Not `Buffer.alloc`: core loads on Workers too, where only the fast path's callers (Node) reach Buffer.
const EMPTY: Buffer = new Uint8Array(0) as Buffer;

/**
 * Frames on a socket, queued by a `FrameWriter` (one write per turn of the event loop).
 *
 * @example
 * ```ts
 * const channel = new SocketChannel(new FrameWriter(socket));
 * channel.send(EndpointFrame.head, 7, bytes, { status: 200, headers: [], end: true });
 * ```
 */
export class SocketChannel implements FastChannel {
  private readonly out: FrameWriter;

  constructor(out: FrameWriter) {
    this.out = out;
  }

  send(type: EndpointFrameType, stream: number, data?: Uint8Array | string, head?: object): void {
    this.out.send(head === undefined ? encodeFrame(type, stream, data) : encodeHeadFrame(type, stream, head, typeof data === "string" ? Buffer.from(data) : data));
  }
}

/** Message types whose payload is a JSON head and bytes. */
const HEADED = new Set<number>([EndpointFrame.request, EndpointFrame.head]);

/**
 * Hands a frame on as a message: the heads of `request` and `head` frames decoded (a malformed
 * one throws: the connection is broken).
 *
 * @example
 * ```ts
 * const reader = new FrameReader(toMessage((type, stream, data, head) => handle(type, stream, data, head)));
 * ```
 */
export const toMessage = (onMessage: FastMessageHandler) => (type: number, stream: number, payload: Buffer): void => {
  if (!HEADED.has(type)) return onMessage(type, stream, payload, undefined);
  const { head, data } = decodeHeadPayload<unknown>(payload);
  onMessage(type, stream, data as Buffer, head);
};

/**
 * A `FrameReader` whose frames arrive as messages (see `toMessage`).
 *
 * @example
 * ```ts
 * const reader = headReader((type, stream, data, head) => handle(type, stream, data, head));
 * socket.on("data", (chunk) => reader.push(chunk));
 * ```
 */
export const headReader = (onMessage: FastMessageHandler): FrameReader => new FrameReader(toMessage(onMessage));

interface Queued { readonly type: number; readonly stream: number; readonly data: Buffer; readonly head: unknown }

/**
 * One end of an in-process connection: what it sends reaches the other end's handler in a
 * microtask (never during `send`, as over a socket), all messages of one turn in one go.
 */
export class LocalChannel implements FastChannel {
  /** The other end's messages arrive here (set by whoever owns this end). */
  onMessage: FastMessageHandler = () => {};
  /** Called once when the other end closes. */
  onClose: () => void = () => {};
  private peer: LocalChannel | undefined;
  private queued: Queued[] = [];
  private scheduled = false;
  private open = true;

  /** Connect two ends. */
  static pair(): [LocalChannel, LocalChannel] {
    const a = new LocalChannel();
    const b = new LocalChannel();
    a.peer = b;
    b.peer = a;
    return [a, b];
  }

  get closed(): boolean {
    return !this.open;
  }

  send(type: EndpointFrameType, stream: number, data?: Uint8Array | string, head?: object): void {
    const peer = this.peer;
    if (!this.open || !peer) return;
    const bytes = data === undefined ? EMPTY : typeof data === "string" ? Buffer.from(data) : Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    peer.queued.push({ type, stream, data: bytes, head });
    if (peer.scheduled) return;
    peer.scheduled = true;
    queueMicrotask(peer.deliver);
  }

  /** Close both ends; each end's `onClose` runs once (after what was sent before is delivered). */
  close(): void {
    if (!this.open) return;
    this.open = false;
    const peer = this.peer;
    queueMicrotask(() => {
      this.onClose();
      if (peer?.open) peer.close();
    });
  }

  private readonly deliver = (): void => {
    this.scheduled = false;
    const messages = this.queued;
    this.queued = [];
    for (const m of messages) {
      if (!this.open) return;
      this.onMessage(m.type, m.stream, m.data, m.head);
    }
  };
}
