// The agent's side of web endpoints: user code cannot reach NATS, so the agent carries each
// request's body pieces and response parts between the runner (fd 3) and the region that holds
// the HTTP request (core NATS request/reply on `Subjects.endpointBody` / `endpointResponse`).
// Every hop waits for the next one's answer before sending more: no hop holds more than a piece.
// A request sent straight to the container (the warm fast path) has its traffic taken by the
// handler `attach` registered instead (see `FastEndpointRequest`).
import { headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { EndpointWire, Limits, Subjects } from "@ferry/core";
import type { FromRunner, ToRunner } from "./runner-protocol.ts";

type Pull = Extract<FromRunner, { t: "ep_pull" }>;
type Part = Extract<FromRunner, { t: "ep_res" }>;

/**
 * Encode a response part as one NATS message: its kind in headers; a head's status and headers
 * as length-prefixed JSON before its first bytes.
 *
 * @example
 * ```ts
 * const { payload, hdrs } = encodePart({ t: "ep_res", id, part: "head", status: 200, headers: [], data: "aGk=", end: true });
 * ```
 */
export const encodePart = (p: Part): { payload: Uint8Array; hdrs: ReturnType<typeof natsHeaders> } => {
  const hdrs = natsHeaders();
  hdrs.set(EndpointWire.part, p.part);
  if (p.end) hdrs.set(EndpointWire.end, "1");
  const data = p.data ? Buffer.from(p.data, "base64") : Buffer.alloc(0);
  if (p.part === "error") return { payload: Buffer.from(p.error ?? "the response failed"), hdrs };
  if (p.part !== "head") return { payload: data, hdrs };
  const json = Buffer.from(JSON.stringify({ status: p.status ?? 200, headers: p.headers ?? [] }));
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(json.byteLength);
  return { payload: Buffer.concat([prefix, json, data]), hdrs };
};

/**
 * Relays one container's endpoint traffic. `handle` takes the runner's `ep_pull` / `ep_res`
 * messages; answers go back to the runner through `send`.
 *
 * @example
 * ```ts
 * const relay = new EndpointRelay(nc, (m) => control.write(`${JSON.stringify(m)}\n`));
 * relay.handle({ t: "ep_pull", id: "er-1" });
 * ```
 */
export class EndpointRelay {
  private readonly nc: NatsConnection;
  private readonly send: (m: ToRunner) => void;
  private readonly direct = new Map<string, (m: Pull | Part) => void>();

  constructor(nc: NatsConnection, send: (m: ToRunner) => void) {
    this.nc = nc;
    this.send = send;
  }

  /** Take request `id`'s pulls and parts with `handle` (a fast path request) until `detach`. */
  attach(id: string, handle: (m: Pull | Part) => void): void {
    this.direct.set(id, handle);
  }

  detach(id: string): void {
    this.direct.delete(id);
  }

  handle(m: Pull | Part): void {
    const direct = this.direct.get(m.id);
    if (direct) direct(m);
    else if (m.t === "ep_pull") void this.pull(m.id);
    else void this.forward(m);
  }

  /** Ask the region for the next request body piece. */
  private async pull(id: string): Promise<void> {
    try {
      const reply = await this.nc.request(Subjects.endpointBody(id), undefined, { timeout: Limits.endpointIdleStreamTimeoutMs });
      const error = reply.headers?.get(EndpointWire.error);
      const eof = reply.headers?.get(EndpointWire.eof) === "1";
      this.send({ t: "ep_body", id, ...(reply.data.byteLength > 0 ? { data: Buffer.from(reply.data).toString("base64") } : {}), ...(eof ? { eof } : {}), ...(error ? { error } : {}) });
    } catch (e) {
      this.send({ t: "ep_body", id, error: `the request body could not be read: ${(e as Error).message}` });
    }
  }

  /** Hand one response part to the region; the runner hears once it is written (or the client is gone). */
  private async forward(p: Part): Promise<void> {
    const { payload, hdrs } = encodePart(p);
    try {
      const reply = await this.nc.request(Subjects.endpointResponse(p.id), payload, { timeout: Limits.endpointIdleStreamTimeoutMs, headers: hdrs });
      this.send({ t: "ep_ack", id: p.id, ...(reply.headers?.get(EndpointWire.aborted) === "1" ? { aborted: true } : {}) });
    } catch {
      this.send({ t: "ep_ack", id: p.id, aborted: true });
    }
  }
}
