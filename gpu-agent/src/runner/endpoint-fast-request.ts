// One web endpoint request on the warm fast path, in the agent: it carries frames between the
// edge's stream on its connection and the container's runner (fd 3), and keeps the guarantees of
// an endpoint input: a slot of the container's `maxInputs` held until the response head, the
// function's timeout on the time to that head (504, and the container is killed, as for an
// input), and a clear answer when the container dies under the request.
import { EndpointFrame, type EndpointRequestHead, type FastChannel, type FastFailure, type FastRequestHead } from "@ferry/core";
import type { FromRunner, ToRunner } from "./runner-protocol.ts";

type RunnerPart = Extract<FromRunner, { t: "ep_pull" | "ep_res" }>;

/** What a fast path request needs of its container (see `Container`). */
export interface DirectContainer {
  readonly id: string;
  readonly timeoutS: number;
  sendDirect(id: string, head: EndpointRequestHead, handle: (m: RunnerPart) => void): void;
  detachDirect(id: string): void;
  sendToRunner(m: Extract<ToRunner, { t: "ep_body" | "ep_ack" }>): void;
  releaseSlot(): void;
  watchGone(onGone: (why: string) => void): () => void;
  timedOut(requestId: string): void;
}

export interface FastRequestDeps {
  /** The connection to the edge (frames on a socket, or in memory). */
  readonly channel: FastChannel;
  /** The container, its slot already taken. */
  readonly container: DirectContainer;
  /** The edge's stream id on its connection. */
  readonly stream: number;
  /** The request's id in the container (its logs are tagged with it). */
  readonly requestId: string;
  /** Called once the request is over here. */
  readonly onDone: () => void;
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");

/**
 * The agent's end of one fast path request.
 *
 * @example
 * ```ts
 * const req = new FastEndpointRequest({ channel, container, stream, requestId, onDone });
 * req.start(head, inlineBody);
 * req.fromEdge(EndpointFrame.ack, payload); // as the edge's frames for its stream arrive
 * ```
 */
export class FastEndpointRequest {
  private readonly deps: FastRequestDeps;
  private headSent = false;
  private done = false;
  private aborted = false;
  private awaitingAck = false;
  private pulling = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private unwatch: () => void = () => {};

  constructor(deps: FastRequestDeps) {
    this.deps = deps;
  }

  /** Hand the request to the runner; `inline`: the whole (small) body, when the edge sent it. */
  start(head: FastRequestHead, inline: Uint8Array | undefined): void {
    const { container, requestId } = this.deps;
    const body: EndpointRequestHead["body"] = inline !== undefined
      ? { kind: "inline", base64: b64(inline) }
      : head.body === "stream" ? { kind: "stream" } : { kind: "none" };
    this.timer = setTimeout(() => this.timeout(), container.timeoutS * 1000);
    this.unwatch = container.watchGone((why) => this.gone(why));
    if (this.done) return;
    container.sendDirect(requestId, { ferryEndpoint: 1, requestId, method: head.method, url: head.url, headers: head.headers, body }, (m) => this.fromRunner(m));
  }

  /** A frame from the edge for this stream. */
  fromEdge(type: number, payload: Buffer): void {
    if (this.done) return;
    const { container, requestId: id } = this.deps;
    if (type === EndpointFrame.ack) {
      if (!this.awaitingAck) return;
      this.awaitingAck = false;
      container.sendToRunner({ t: "ep_ack", id });
    } else if (type === EndpointFrame.bodyPiece || type === EndpointFrame.bodyEnd || type === EndpointFrame.bodyError) {
      if (!this.pulling) return;
      this.pulling = false;
      if (type === EndpointFrame.bodyError) container.sendToRunner({ t: "ep_body", id, error: payload.toString("utf8") });
      else container.sendToRunner({ t: "ep_body", id, ...(payload.byteLength > 0 ? { data: b64(payload) } : {}), ...(type === EndpointFrame.bodyEnd ? { eof: true } : {}) });
    } else if (type === EndpointFrame.cancel) {
      this.abort();
    }
  }

  /** The client or the edge went away: the handler hears it at its next read or write. */
  abort(): void {
    if (this.done || this.aborted) return;
    this.aborted = true;
    const { container, requestId: id } = this.deps;
    if (this.awaitingAck) {
      this.awaitingAck = false;
      container.sendToRunner({ t: "ep_ack", id, aborted: true });
    }
    if (this.pulling) {
      this.pulling = false;
      container.sendToRunner({ t: "ep_body", id, error: "the client went away" });
    }
    // Nothing more can reach the client; the slot stays held until the handler's head, as for an input.
    if (this.headSent) this.finish();
  }

  private fromRunner(m: RunnerPart): void {
    if (this.done) return;
    const { container, requestId: id, stream, channel } = this.deps;
    if (m.t === "ep_pull") {
      if (this.aborted) return container.sendToRunner({ t: "ep_body", id, error: "the client went away" });
      this.pulling = true;
      return channel.send(EndpointFrame.pull, stream);
    }
    if (m.part === "head") {
      this.headSent = true;
      clearTimeout(this.timer);
      container.releaseSlot();
      if (this.aborted) {
        if (!m.end) container.sendToRunner({ t: "ep_ack", id, aborted: true });
        return this.finish();
      }
      const data = m.data ? Buffer.from(m.data, "base64") : undefined;
      channel.send(EndpointFrame.head, stream, data, { status: m.status ?? 200, headers: m.headers ?? [], ...(m.end ? { end: true } : {}) });
      if (m.end) return this.finish();
      this.awaitingAck = true;
      return;
    }
    if (m.part === "chunk") {
      if (this.aborted) return container.sendToRunner({ t: "ep_ack", id, aborted: true });
      channel.send(EndpointFrame.chunk, stream, m.data ? Buffer.from(m.data, "base64") : undefined);
      if (m.end) {
        channel.send(EndpointFrame.end, stream);
        return this.finish();
      }
      this.awaitingAck = true;
      return;
    }
    if (!this.aborted) {
      if (m.part === "end") channel.send(EndpointFrame.end, stream);
      else channel.send(EndpointFrame.error, stream, m.error ?? "the endpoint's response failed");
    }
    this.finish();
  }

  private timeout(): void {
    if (this.done || this.headSent) return;
    const { container, requestId } = this.deps;
    this.failWith({ status: 504, type: "FunctionTimeoutError", message: `the endpoint did not start its response within the function's timeout (${container.timeoutS}s)` });
    container.timedOut(requestId);
  }

  private gone(why: string): void {
    if (this.done) return;
    if (this.headSent) {
      if (!this.aborted) this.deps.channel.send(EndpointFrame.error, this.deps.stream, `the endpoint's container stopped: ${why}`);
      return this.finish();
    }
    this.failWith({ status: 502, type: "ContainerCrashError", message: `the endpoint's container ${this.deps.container.id} stopped before it answered (${why}); try again` });
  }

  private failWith(f: FastFailure): void {
    if (!this.aborted) this.deps.channel.send(EndpointFrame.fail, this.deps.stream, JSON.stringify(f));
    this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.unwatch();
    const { container, requestId } = this.deps;
    container.detachDirect(requestId);
    if (!this.headSent) {
      this.headSent = true;
      container.releaseSlot();
    }
    this.deps.onDone();
  }
}
