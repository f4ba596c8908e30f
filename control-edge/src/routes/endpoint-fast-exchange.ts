// The edge's end of one web endpoint request on the warm fast path: it sends the request on its
// agent link, answers the container's body pulls from the client's body, and turns the response
// frames into the client's response. Every response piece is acknowledged only once the client
// took the one before, so a slow client slows the handler instead of filling memory here.
import { EndpointFrame, Limits, type FastFailure, type FastRequestHead, type FastResponseHead } from "@ferry/core";
import type { ClientBody } from "./endpoint-client-body.ts";
import type { AgentLink, LinkStream } from "./endpoint-fast-link.ts";

/** Response headers that describe one hop, not the response. */
const DROPPED = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "proxy-connection"]);
/** Statuses whose responses have no body. */
const NULL_BODY = new Set([204, 205, 304]);

/** An error answer in the API's one error shape. */
export const errorResponse = (status: number, type: string, message: string): Response =>
  new Response(JSON.stringify({ error: { type, message } }), { status, headers: { "content-type": "application/json" } });

/**
 * The client's response headers. A plain record where it can be (each name once, a content type
 * given): Node's server writes it as it is, with no `Headers` object built and walked per request.
 */
const responseHeaders = (pairs: ReadonlyArray<readonly [string, string]>): Headers | Record<string, string> => {
  const record = Object.create(null) as Record<string, string>;
  let typed = false;
  for (const [name, v] of pairs) {
    const k = name.toLowerCase();
    if (DROPPED.has(k)) continue;
    if (Object.hasOwn(record, k)) return headersOf(pairs);
    if (k === "content-type") typed = true;
    record[k] = v;
  }
  return typed ? record : headersOf(pairs);
};

const headersOf = (pairs: ReadonlyArray<readonly [string, string]>): Headers => {
  const out = new Headers();
  for (const [k, v] of pairs) if (!DROPPED.has(k.toLowerCase())) out.append(k, v);
  return out;
};

export interface FastExchangeOptions {
  /** The client's body, when it streams (pulled as the handler reads). */
  readonly body?: ClientBody;
  /** The whole small body, sent with the head. */
  readonly inline?: Uint8Array;
  /** The client's request; its abort ends the exchange. */
  readonly signal?: AbortSignal;
  /** Longest to wait for the head (the agent bounds it by the function's timeout; this is the edge's backstop). */
  readonly headDeadlineMs: number;
  readonly idleMs?: number;
}

/**
 * One request on a link. `response` resolves with the client's response, or `undefined` when
 * the agent had no free slot (nothing of the request was used: send it the queue's way).
 *
 * @example
 * ```ts
 * const res = await new FastExchange(link, head, { headDeadlineMs: 60_000 }).response;
 * if (res === undefined) { ...queue path... }
 * ```
 */
export class FastExchange implements LinkStream {
  readonly response: Promise<Response | undefined>;
  private resolve: (r: Response | undefined) => void = () => {};
  private readonly link: AgentLink;
  private readonly stream: number;
  private readonly opts: FastExchangeOptions;
  private readonly idleMs: number;
  private headed = false;
  private done = false;
  private controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  private holdAck = false;
  private deadline: ReturnType<typeof setTimeout> | undefined;
  private idle: ReturnType<typeof setTimeout> | undefined;

  constructor(link: AgentLink, head: FastRequestHead, opts: FastExchangeOptions) {
    this.link = link;
    this.opts = opts;
    this.idleMs = opts.idleMs ?? Limits.endpointIdleStreamTimeoutMs;
    this.response = new Promise((r) => (this.resolve = r));
    this.stream = link.add(this);
    link.outstanding++;
    // The edge's backstop for an agent that goes silent; one in this process keeps the function's timeout itself.
    if (!link.inProcess) this.deadline = setTimeout(() => this.failBeforeHead(errorResponse(504, "EndpointTimeoutError", `no response head within ${Math.round(opts.headDeadlineMs / 1000)}s`)), opts.headDeadlineMs);
    opts.signal?.addEventListener("abort", this.abort, { once: true });
    link.send(EndpointFrame.request, this.stream, opts.inline, head);
  }

  onFrame(type: number, payload: Buffer, head: unknown): void {
    if (this.done) return;
    switch (type) {
      case EndpointFrame.head:
        return this.onHead(head as FastResponseHead, payload);
      case EndpointFrame.chunk:
        return this.onChunk(payload);
      case EndpointFrame.end:
        this.controller?.close();
        return this.finish();
      case EndpointFrame.error:
        this.controller?.error(new Error(payload.toString("utf8")));
        return this.finish();
      case EndpointFrame.pull:
        return void this.pull();
      case EndpointFrame.fail: {
        const f = JSON.parse(payload.toString("utf8")) as FastFailure;
        return this.settle(errorResponse(f.status, f.type, f.message));
      }
      case EndpointFrame.busy:
        // Nothing of the request was used: its body stays whole for the queue's road.
        return this.settle(undefined, false);
    }
  }

  onLinkClosed(why: string): void {
    if (this.done) return;
    if (!this.headed) return this.settle(errorResponse(502, "ContainerCrashError", `${why} before the endpoint answered; try again`));
    this.controller?.error(new Error(why));
    this.finish();
  }

  private onHead(head: FastResponseHead, data: Buffer): void {
    const headers = responseHeaders(head.headers);
    const nullBody = NULL_BODY.has(head.status);
    if (head.end || nullBody) {
      // The whole body came with the head. Copied: the frame's bytes are the link's buffer.
      this.settle(new Response(nullBody ? null : new Uint8Array(data), { status: head.status, headers }));
      return;
    }
    const stream = new ReadableStream<Uint8Array>({
      start: (ctl) => void (this.controller = ctl),
      pull: () => {
        if (!this.holdAck) return;
        this.holdAck = false;
        this.link.send(EndpointFrame.ack, this.stream);
      },
      cancel: () => this.abort(),
    });
    if (data.byteLength > 0) this.controller!.enqueue(new Uint8Array(data));
    this.headed = true;
    this.link.outstanding--;
    clearTimeout(this.deadline);
    this.resolve(new Response(stream, { status: head.status, headers }));
    this.link.send(EndpointFrame.ack, this.stream);
    this.armIdle();
  }

  private onChunk(payload: Buffer): void {
    const ctl = this.controller;
    if (!ctl) return;
    ctl.enqueue(new Uint8Array(payload));
    // The client has not taken the last piece yet: hold the ack (and so the handler) until it does.
    if ((ctl.desiredSize ?? 1) <= 0) this.holdAck = true;
    else this.link.send(EndpointFrame.ack, this.stream);
    this.armIdle();
  }

  private async pull(): Promise<void> {
    const body = this.opts.body;
    if (!body) return this.link.send(EndpointFrame.bodyEnd, this.stream);
    const piece = await body.next();
    if (this.done) return;
    if ("error" in piece) {
      this.link.send(EndpointFrame.bodyError, this.stream, piece.message);
      if (piece.error === "too-large") this.failBeforeHead(errorResponse(413, "PayloadTooLargeError", piece.message));
      return;
    }
    this.link.send(piece.eof ? EndpointFrame.bodyEnd : EndpointFrame.bodyPiece, this.stream, piece.data);
  }

  /** Answer the client now, before a head (a body over its limit, the backstop deadline), and cancel the request. */
  private failBeforeHead(response: Response): void {
    if (this.done || this.headed) return;
    this.link.send(EndpointFrame.cancel, this.stream);
    this.settle(response);
  }

  private readonly abort = (): void => {
    if (this.done) return;
    this.link.send(EndpointFrame.cancel, this.stream);
    if (!this.headed) this.settle(errorResponse(499, "ClientClosedError", "the client went away"));
    else this.finish();
  };

  private settle(response: Response | undefined, dropBody = true): void {
    if (this.done) return;
    if (!this.headed) {
      this.headed = true;
      this.link.outstanding--;
    }
    this.resolve(response);
    this.finish(dropBody);
  }

  private armIdle(): void {
    clearTimeout(this.idle);
    if (this.done) return;
    this.idle = setTimeout(() => {
      this.controller?.error(new Error(`the endpoint sent nothing for ${this.idleMs} ms (endpointIdleStreamTimeoutMs)`));
      this.abort();
    }, this.idleMs);
  }

  private finish(dropBody = true): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.deadline);
    clearTimeout(this.idle);
    this.opts.signal?.removeEventListener("abort", this.abort);
    this.link.remove(this.stream);
    if (dropBody) this.opts.body?.cancel();
  }
}
