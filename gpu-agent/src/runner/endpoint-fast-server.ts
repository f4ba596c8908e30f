// The agent's door for the web endpoint warm fast path: edges keep one TCP connection here and
// send warm requests straight to the agent's running containers of the endpoint's function,
// multiplexed as frames (see `EndpointFrame`), without the work queue or a NATS round trip per
// request. A request goes to the least loaded running container of its function with a free
// `maxInputs` slot; with none, the agent answers `busy` before using anything of the request,
// and the edge sends it the queue's way (which also scales the function up). An edge in this
// same process (the local platform) connects in memory instead (see `inProcessDoors`): same
// messages, no socket, no framing.
import { createServer, type Server, type Socket } from "node:net";
import { timingSafeEqual } from "node:crypto";
import { EndpointFrame, encodeFrame, FrameReader, FrameWriter, inProcessDoors, newId, SocketChannel, toMessage, type FastChannel, type FastRequestHead, type InProcessDoor, type LocalChannel } from "@ferry/core";
import { FastEndpointRequest, type DirectContainer } from "./endpoint-fast-request.ts";

/** A container as the fast path chooses among them (see `Container`). */
export interface FastPathContainer extends DirectContainer {
  readonly functionId: string;
  readonly load: number;
  takeSlot(): boolean;
}

export interface FastEndpointServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly agentId: string;
  /** The platform's internal token: an edge proves itself with it. */
  readonly internalToken: string;
  /** The agent's containers, live. */
  readonly containers: () => Iterable<FastPathContainer>;
  /** Let an edge in this process connect in memory (default true); false: TCP only. */
  readonly inProcess?: boolean;
}

/** One edge's connection, over TCP or in memory: its messages in, and its requests in flight. */
interface Session {
  receive(type: number, stream: number, data: Buffer, head: unknown): void;
  /** The edge is gone: its requests end as if their clients went away. */
  close(): void;
}

/** Longest an edge may take to send its `hello` before the connection is closed. */
const HELLO_TIMEOUT_MS = 10_000;

/**
 * Listens for edges' fast path connections and serves their requests in this agent's containers.
 *
 * @example
 * ```ts
 * const door = await FastEndpointServer.listen({ host: "127.0.0.1", port: 0, agentId, internalToken, containers: () => containers.values() });
 * register.endpointPort = door.port;
 * ```
 */
export class FastEndpointServer {
  readonly port: number;
  /** Requests taken by a container since start (`inProcess` of them from an edge in this process), and answered `busy`. */
  served = 0;
  inProcess = 0;
  busy = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly opts: FastEndpointServerOptions;
  /** Request ids are this server's random prefix and a count: unique, without randomness per request. */
  private readonly idPrefix = newId("er", 10);
  private nextId = 0;
  /** This door as an edge in the same process opens it, and the in-memory connections it has. */
  private readonly local: InProcessDoor;
  private readonly locals = new Set<LocalChannel>();

  private constructor(server: Server, port: number, opts: FastEndpointServerOptions) {
    this.server = server;
    this.port = port;
    this.opts = opts;
    this.local = { agentId: opts.agentId, address: `${opts.host}:${port}`, internalToken: opts.internalToken, connect: (agentEnd) => this.acceptLocal(agentEnd) };
  }

  static async listen(opts: FastEndpointServerOptions): Promise<FastEndpointServer> {
    const server = createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port, opts.host, () => resolve());
    });
    const address = server.address();
    const door = new FastEndpointServer(server, typeof address === "object" && address ? address.port : 0, opts);
    server.on("connection", (socket) => door.accept(socket));
    if (opts.inProcess !== false) inProcessDoors.add(door.local);
    return door;
  }

  /** Stop listening and drop every connection (their requests end as if the edge went away). */
  async close(): Promise<void> {
    inProcessDoors.remove(this.local);
    for (const c of this.locals) c.close();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** An edge in this process: it named this agent with the internal token, so no hello. */
  private acceptLocal(channel: LocalChannel): void {
    this.locals.add(channel);
    const session = this.session(channel, true);
    channel.onMessage = session.receive;
    channel.onClose = () => {
      this.locals.delete(channel);
      session.close();
    };
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const out = new FrameWriter(socket);
    const session = this.session(new SocketChannel(out), false);
    let authed = false;
    const helloTimer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS);
    // Heads are decoded only once the edge proved itself.
    const toSession = toMessage(session.receive);
    const reader = new FrameReader((type, stream, payload) => {
      if (!authed) {
        authed = type === EndpointFrame.hello && this.tokenMatches(payload);
        clearTimeout(helloTimer);
        if (!authed) return void socket.destroy();
        out.send(encodeFrame(EndpointFrame.welcome, 0, JSON.stringify({ agentId: this.opts.agentId })));
        return;
      }
      toSession(type, stream, payload);
    });
    socket.on("data", (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch {
        socket.destroy();
      }
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(helloTimer);
      this.sockets.delete(socket);
      session.close();
    });
  }

  private session(channel: FastChannel, inProcess: boolean): Session {
    const requests = new Map<number, FastEndpointRequest>();
    return {
      receive: (type, stream, data, head) => {
        if (type === EndpointFrame.request) return this.start(stream, head as FastRequestHead, data, channel, requests, inProcess);
        requests.get(stream)?.fromEdge(type, data);
      },
      close: () => {
        for (const r of [...requests.values()]) r.abort();
      },
    };
  }

  private tokenMatches(payload: Buffer): boolean {
    try {
      const token = Buffer.from(String((JSON.parse(payload.toString("utf8")) as { token?: unknown }).token ?? ""));
      const want = Buffer.from(this.opts.internalToken);
      return token.byteLength === want.byteLength && timingSafeEqual(token, want);
    } catch {
      return false;
    }
  }

  private start(stream: number, head: FastRequestHead, data: Buffer, channel: FastChannel, requests: Map<number, FastEndpointRequest>, inProcess: boolean): void {
    const container = this.pick(head.functionId);
    if (!container) {
      this.busy++;
      return channel.send(EndpointFrame.busy, stream);
    }
    this.served++;
    if (inProcess) this.inProcess++;
    const request = new FastEndpointRequest({
      channel, container, stream, requestId: `${this.idPrefix}.${(this.nextId++).toString(36)}`, onDone: () => requests.delete(stream),
    });
    requests.set(stream, request);
    // The bytes are copied: the frame's buffer is the reader's.
    request.start(head, head.body === "inline" ? Buffer.from(data) : undefined);
  }

  /** The least loaded container of the function that takes the request (its slot taken), if any. */
  private pick(functionId: string): FastPathContainer | undefined {
    const candidates: FastPathContainer[] = [];
    for (const c of this.opts.containers()) if (c.functionId === functionId) candidates.push(c);
    if (candidates.length > 1) candidates.sort((a, b) => a.load - b.load);
    return candidates.find((c) => c.takeSlot());
  }
}
