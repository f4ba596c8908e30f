import { headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { CallEvent, EndpointWire, Limits, Subjects, type OutputItem } from "@ferry/core";
import { decodeValue } from "@ferry/core/codec";
import { Schema } from "effect";
import type { BodySource } from "./body-source.ts";

const decodeEvent = Schema.decodeUnknownOption(CallEvent);

/** Hop-by-hop headers a handler's response does not pass on as they are. */
const DROPPED = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "proxy-connection"]);
/**
 * The edge's `fetch` would undo a compressed body and keep the header; the header crosses the
 * region → edge hop under this name and gets its own back at the edge.
 */
export const CONTENT_ENCODING_RELAY = "x-ferry-content-encoding";

/** An error answer in the API's one error shape. */
export const errorAnswer = (status: number, type: string, message: string): Response =>
  new Response(JSON.stringify({ error: { type, message } }), { status, headers: { "content-type": "application/json" } });

const relayHeaders = (headers: ReadonlyArray<readonly [string, string]>): Headers => {
  const out = new Headers();
  for (const [k, v] of headers) {
    const name = k.toLowerCase();
    if (DROPPED.has(name)) continue;
    out.append(name === "content-encoding" ? CONTENT_ENCODING_RELAY : name, v);
  }
  return out;
};

/** How an input that ended without a response head is answered. */
const failureAnswer = (o: Extract<OutputItem, { ok: false }>, timeoutS: number): Response => {
  if (o.kind === "timeout") return errorAnswer(504, "FunctionTimeoutError", `the endpoint did not start its response within the function's timeout (${timeoutS}s)`);
  let name = "ContainerCrashError";
  let message = "the endpoint's container failed";
  try {
    const e = decodeValue(o.error);
    if (e instanceof Error) ({ name, message } = e);
  } catch { /* keep the generic answer */ }
  return errorAnswer(500, name, message);
};

export interface EndpointExchangeOptions {
  /** The function's timeout: time to the first response byte once a container runs it. */
  readonly timeoutS: number;
  /** Longest the head may take in all (queueing and container start included). */
  readonly headDeadlineMs: number;
  /** The client's request; its abort ends the exchange. */
  readonly signal?: AbortSignal;
  readonly idleMs?: number;
}

/**
 * The region's end of one web endpoint request: it answers the container's body pulls from the
 * client's body, turns the response parts the container sends into the HTTP response, and
 * settles on an error answer when the input ends without a head (timeout, crash, a body over its
 * limit, no container in time). Every response part is acknowledged only once the client has
 * taken the one before, so a slow client slows the handler instead of filling memory here.
 *
 * @example
 * ```ts
 * const exchange = new EndpointExchange(nc, requestId, body, { timeoutS: 300, headDeadlineMs: 420_000 });
 * exchange.start(); // before the input is published
 * return await exchange.response;
 * ```
 */
export class EndpointExchange {
  readonly response: Promise<Response>;
  private resolveResponse: (r: Response) => void = () => {};
  private readonly nc: NatsConnection;
  private readonly requestId: string;
  private readonly body: BodySource | undefined;
  private readonly opts: EndpointExchangeOptions;
  private readonly idleMs: number;
  private subs: Subscription[] = [];
  private settled = false;
  private done = false;
  private aborted = false;
  private controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  private ackOnPull: (() => void) | undefined;
  private bodyQueue: Promise<void> = Promise.resolve();
  private partQueue: Promise<void> = Promise.resolve();
  private deadline: ReturnType<typeof setTimeout> | undefined;
  private idle: ReturnType<typeof setTimeout> | undefined;

  constructor(nc: NatsConnection, requestId: string, body: BodySource | undefined, opts: EndpointExchangeOptions) {
    this.nc = nc;
    this.requestId = requestId;
    this.body = body;
    this.opts = opts;
    this.idleMs = opts.idleMs ?? Limits.endpointIdleStreamTimeoutMs;
    this.response = new Promise((r) => (this.resolveResponse = r));
  }

  /** Listen for the container's traffic; call before the input is published. */
  start(): void {
    const bodySubject = Subjects.endpointBody(this.requestId);
    this.subs.push(this.nc.subscribe(Subjects.endpointAny(this.requestId), {
      callback: (err, msg) => {
        if (err) return;
        // Body pulls and response parts have queues of their own: a handler may stream both ways at once.
        if (msg.subject === bodySubject) this.bodyQueue = this.bodyQueue.then(() => this.onPull(msg));
        else this.partQueue = this.partQueue.then(() => this.onPart(msg));
      },
    }));
    this.subs.push(this.nc.subscribe(Subjects.callEvents(this.requestId), { callback: (err, msg) => {
      if (!err) this.onEvent(msg);
    } }));
    this.deadline = setTimeout(() => this.fail(errorAnswer(504, "EndpointTimeoutError",
      `no container answered within ${Math.round(this.opts.headDeadlineMs / 1000)}s (the function's timeout plus endpointStartTimeoutMs)`)), this.opts.headDeadlineMs);
    this.opts.signal?.addEventListener("abort", this.abort, { once: true });
  }

  /** Give up before a head: answer `response` and end (the input, if still queued, is cancelled). */
  fail(response: Response): void {
    if (this.settled) return;
    this.decide(response);
    this.nc.publish(Subjects.cancel, this.requestId);
    this.finish();
  }

  private readonly abort = (): void => {
    if (this.done) return;
    this.aborted = true;
    if (!this.settled) this.nc.publish(Subjects.cancel, this.requestId);
    this.ackOnPull?.();
    this.finish();
  };

  private decide(response: Response): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.deadline);
    this.resolveResponse(response);
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.deadline);
    clearTimeout(this.idle);
    this.opts.signal?.removeEventListener("abort", this.abort);
    for (const s of this.subs) s.unsubscribe();
    this.body?.cancel();
  }

  private async onPull(msg: Msg): Promise<void> {
    const hdrs = natsHeaders();
    if (!this.body || this.done) {
      hdrs.set(this.done ? EndpointWire.error : EndpointWire.eof, this.done ? "the request is over" : "1");
      msg.respond(undefined, { headers: hdrs });
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const piece = await Promise.race([
      this.body.next(),
      new Promise<{ error: "failed"; message: string }>((r) => (timer = setTimeout(() => r({ error: "failed", message: `the client sent no body bytes for ${this.idleMs} ms (endpointIdleStreamTimeoutMs)` }), this.idleMs))),
    ]);
    clearTimeout(timer);
    if ("error" in piece) {
      hdrs.set(EndpointWire.error, piece.message);
      msg.respond(undefined, { headers: hdrs });
      if (piece.error === "too-large") this.fail(errorAnswer(413, "PayloadTooLargeError", piece.message));
      return;
    }
    if (piece.eof) hdrs.set(EndpointWire.eof, "1");
    msg.respond(piece.data, { headers: hdrs });
  }

  private async onPart(msg: Msg): Promise<void> {
    clearTimeout(this.idle);
    const kind = msg.headers?.get(EndpointWire.part);
    const end = msg.headers?.get(EndpointWire.end) === "1";
    if (this.aborted || (this.settled && !this.controller) || this.done) return this.ack(msg, true);
    if (kind === "head") {
      const size = new DataView(msg.data.buffer, msg.data.byteOffset, 4).getUint32(0);
      const head = JSON.parse(Buffer.from(msg.data.subarray(4, 4 + size)).toString("utf8")) as { status: number; headers: Array<[string, string]> };
      const data = msg.data.subarray(4 + size);
      const headers = relayHeaders(head.headers);
      const nullBody = head.status === 204 || head.status === 304 || head.status === 205;
      if (end || nullBody) {
        // The whole body came with the head: a plain response of known length.
        this.decide(new Response(nullBody ? null : new Uint8Array(data), { status: head.status, headers }));
        this.ack(msg, false);
        return this.finish();
      }
      const stream = new ReadableStream<Uint8Array>({
        start: (ctl) => void (this.controller = ctl),
        pull: () => {
          const release = this.ackOnPull;
          this.ackOnPull = undefined;
          release?.();
        },
        cancel: () => this.abort(),
      });
      if (data.byteLength > 0) this.controller!.enqueue(new Uint8Array(data));
      this.decide(new Response(stream, { status: head.status, headers }));
      this.ack(msg, false);
      return this.armIdle();
    }
    const ctl = this.controller!;
    if (kind === "chunk") {
      ctl.enqueue(new Uint8Array(msg.data));
      // The client has not taken the last piece yet: hold the ack (and so the handler) until it does.
      if ((ctl.desiredSize ?? 1) <= 0) await new Promise<void>((r) => (this.ackOnPull = r));
      this.ack(msg, this.aborted);
      if (this.aborted) return;
      if (end) {
        ctl.close();
        return this.finish();
      }
      return this.armIdle();
    }
    if (kind === "end") ctl.close();
    else ctl.error(new Error(Buffer.from(msg.data).toString("utf8") || "the endpoint's response failed"));
    this.ack(msg, false);
    this.finish();
  }

  private armIdle(): void {
    if (this.done) return;
    this.idle = setTimeout(() => {
      this.controller?.error(new Error(`the endpoint sent nothing for ${this.idleMs} ms (endpointIdleStreamTimeoutMs)`));
      this.abort();
    }, this.idleMs);
  }

  private ack(msg: Msg, aborted: boolean): void {
    if (!aborted) return void msg.respond();
    const hdrs = natsHeaders();
    hdrs.set(EndpointWire.aborted, "1");
    msg.respond(undefined, { headers: hdrs });
  }

  private onEvent(msg: Msg): void {
    if (this.settled) return;
    const event = decodeEvent(msg.json());
    if (event._tag !== "Some" || event.value.type !== "outputs") return;
    const failed = event.value.outputs.find((o): o is Extract<OutputItem, { ok: false }> => !o.ok);
    if (failed) this.fail(failureAnswer(failed, this.opts.timeoutS));
  }
}
