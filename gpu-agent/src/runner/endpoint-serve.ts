// The runner's side of web endpoints. An endpoint request arrives as an ordinary input whose one
// argument is an `EndpointRequestHead`; the runner turns it into a `Request` (its body a stream
// that pulls pieces through the agent, `ep_pull` → `ep_body`), calls the handler, and sends the
// `Response` back as parts (`ep_res`: head, chunks, end), one unacknowledged part at a time, so
// a slow client slows the handler instead of filling memory. The input's output is sent as soon
// as the head is: the function's timeout bounds the time to the first response byte only.
// A request on the warm fast path (`ep_req`) is served the same way, but it is no input: no
// output is sent, and its last part is not waited on (the agent forwards it and forgets it).
import { Limits } from "../../../core/src/limits/limits.ts";
import type { EndpointRequestHead } from "../../../core/src/endpoints/endpoint-request.ts";
import { encodeValue } from "../../../core/src/codec/index.ts";
import type { FromRunner, ToRunner } from "./runner-protocol.ts";

type BodyPiece = Extract<ToRunner, { t: "ep_body" }>;
type Ack = Extract<ToRunner, { t: "ep_ack" }>;
type ResponsePart = Extract<FromRunner, { t: "ep_res" }>;

/** What `serve` needs from the runner: its channel to the agent and a way to run code as an input (for log tagging). */
export interface EndpointServerDeps {
  readonly send: (m: FromRunner) => void;
  readonly asInput: <T>(inputId: string, f: () => T) => T;
}

const PENDING = Symbol("pending");
/** The read's result if it is already settled (resolves within this turn of the event loop), else `PENDING`. */
const readNow = <T>(p: Promise<T>): Promise<T | typeof PENDING> =>
  Promise.race([p, new Promise<typeof PENDING>((r) => setImmediate(() => r(PENDING)))]);

const errorJson = (type: string, message: string): Response =>
  new Response(JSON.stringify({ error: { type, message } }), { status: 500, headers: { "content-type": "application/json" } });

const describe = (v: unknown): string => v === null ? "null" : typeof v === "object" ? `an object (${(v as object).constructor?.name ?? "Object"})` : typeof v;

/** How one request is served: `direct` for a fast path request (`ep_req`), not an input. */
export interface ServeOptions {
  readonly direct?: boolean;
}

/** Statuses whose responses have no body (the Response constructor refuses one). */
const NULL_BODY = new Set([101, 204, 205, 304]);

/**
 * Serves endpoint inputs in the runner and routes the agent's `ep_body` / `ep_ack` answers.
 *
 * @example
 * ```ts
 * const endpoints = new EndpointServer({ send, asInput: (id, f) => currentInput.run(id, f) });
 * if (isEndpointRequest(args)) await endpoints.serve(inputId, args[0], (req) => target.local(req));
 * ```
 */
export class EndpointServer {
  private readonly deps: EndpointServerDeps;
  private readonly bodyWaiters = new Map<string, (m: BodyPiece) => void>();
  private readonly ackWaiters = new Map<string, (m: Ack) => void>();

  constructor(deps: EndpointServerDeps) {
    this.deps = deps;
  }

  /** An answer from the agent about one request. */
  receive(m: BodyPiece | Ack): void {
    const waiters = m.t === "ep_body" ? this.bodyWaiters : this.ackWaiters;
    const w = waiters.get(m.id);
    waiters.delete(m.id);
    (w as ((m: BodyPiece | Ack) => void) | undefined)?.(m);
  }

  /**
   * Run the handler for one request and stream its response; never throws (a failure is a 500
   * response). `inputId` tags its logs (a direct request's own id).
   */
  async serve(inputId: string, head: EndpointRequestHead, handler: (request: Request) => unknown, opts: ServeOptions = {}): Promise<void> {
    const id = head.requestId;
    let response: Response;
    try {
      const result = await this.deps.asInput(inputId, () => handler(this.toRequest(head)));
      if (result instanceof Response) response = result;
      else {
        const message = `the endpoint handler returned ${describe(result)}, not a Response: return new Response(body) or Response.json(value)`;
        this.deps.asInput(inputId, () => process.stderr.write(`${message}\n`));
        response = errorJson("InvalidResponseError", message);
      }
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      // The stack goes to the app's logs; the client only learns the error's name and message.
      this.deps.asInput(inputId, () => process.stderr.write(`endpoint handler threw: ${err.stack ?? `${err.name}: ${err.message}`}\n`));
      response = errorJson(err.name, err.message);
    }
    const first = await this.sendResponse(id, response, opts.direct === true);
    if (opts.direct) return await first;
    this.deps.send({ t: "out", id: inputId, ok: true, value: encodeValue({ status: response.status }, "result") });
    await first;
  }

  /** Send the head now; resolves once the whole body is sent (or cut short). */
  private async sendResponse(id: string, response: Response, direct: boolean): Promise<Promise<void>> {
    const part = (p: Omit<ResponsePart, "t" | "id">) => this.part(id, p, direct);
    const status = response.status;
    const headers = [...response.headers] as Array<[string, string]>;
    const reader = NULL_BODY.has(status) ? undefined : response.body?.getReader();
    if (!reader) {
      await part({ part: "head", status, headers, end: true });
      return Promise.resolve();
    }
    // Bytes already there (a string or buffer body) ride with the head: one message for a small response.
    let pending = reader.read();
    const ready = await readNow(pending);
    if (ready !== PENDING && ready.done) {
      await part({ part: "head", status, headers, end: true });
      return Promise.resolve();
    }
    let data: Uint8Array | undefined;
    if (ready !== PENDING && ready.value.byteLength <= Limits.endpointBodyChunkBytes) {
      data = ready.value;
      pending = reader.read();
      const next = await readNow(pending);
      if (next !== PENDING && next.done) {
        await part({ part: "head", status, headers, data: b64(data), end: true });
        return Promise.resolve();
      }
    }
    const acked = await part({ part: "head", status, headers, ...(data ? { data: b64(data) } : {}) });
    return this.pump(id, reader, pending, acked, direct);
  }

  /** Send the rest of the body, one part in flight at a time; the client going away cancels the reader. */
  private async pump(id: string, reader: ReadableStreamDefaultReader<Uint8Array>, pending: Promise<ReadableStreamReadResult<Uint8Array>>, acked: boolean, direct: boolean): Promise<void> {
    let live = acked;
    try {
      while (live) {
        const r = await pending;
        if (r.done) {
          await this.part(id, { part: "end" }, direct);
          return;
        }
        // Read ahead one piece while this one travels.
        pending = reader.read();
        for (let at = 0; at < r.value.byteLength && live; at += Limits.endpointBodyChunkBytes) {
          live = await this.part(id, { part: "chunk", data: b64(r.value.subarray(at, at + Limits.endpointBodyChunkBytes)) });
        }
      }
    } catch (e) {
      await this.part(id, { part: "error", error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }, direct);
    } finally {
      if (!live) await reader.cancel().catch(() => undefined);
    }
  }

  /**
   * Send one part and wait for the region's ack; false when the client is gone. A direct
   * request's last part is not acked: it resolves at once.
   */
  private part(id: string, p: Omit<ResponsePart, "t" | "id">, direct = false): Promise<boolean> {
    if (direct && (p.part === "end" || p.part === "error" || (p.part === "head" && p.end))) {
      this.deps.send({ t: "ep_res", id, ...p });
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      this.ackWaiters.set(id, (ack) => resolve(!ack.aborted));
      this.deps.send({ t: "ep_res", id, ...p });
    });
  }

  private toRequest(head: EndpointRequestHead): Request {
    const method = head.method;
    const body = head.body.kind === "inline"
      ? Buffer.from(head.body.base64, "base64")
      : head.body.kind === "stream" ? this.bodyStream(head.requestId) : undefined;
    const hasBody = body !== undefined && method !== "GET" && method !== "HEAD";
    return new Request(head.url, { method, headers: head.headers as Array<[string, string]>, ...(hasBody ? { body, duplex: "half" } : {}) } as RequestInit);
  }

  /** The request body as a stream that pulls each piece from the region when the handler reads. */
  private bodyStream(id: string): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      pull: (ctl) => new Promise<void>((resolve) => {
        this.bodyWaiters.set(id, (m) => {
          if (m.data) ctl.enqueue(new Uint8Array(Buffer.from(m.data, "base64")));
          if (m.error) ctl.error(Object.assign(new Error(m.error), { name: m.error.includes("maxEndpointBodyBytes") ? "PayloadTooLargeError" : "EndpointBodyError" }));
          else if (m.eof) ctl.close();
          resolve();
        });
        this.deps.send({ t: "ep_pull", id });
      }),
    }, { highWaterMark: 0 });
  }
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
