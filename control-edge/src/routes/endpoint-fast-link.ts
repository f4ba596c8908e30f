// The edge's one connection to an agent's web endpoint fast path: many requests at once as
// streams of messages (see `EndpointFrame`). To an agent in another process it is TCP: it proves
// itself with the internal token (`hello`) and is used once the agent answered `welcome` naming
// the agent the region said is there. To an agent in this same process (the local platform) it is
// in memory (see `inProcessDoors`, which checks the same agent and token): no socket, no framing.
import { EndpointFrame, encodeFrame, FrameWriter, headReader, inProcessDoors, LocalChannel, SocketChannel, type EndpointFrameType, type FastChannel } from "@ferry/core";

/** One request's end on a link: gets its stream's messages (`head` decoded), and hears if the link dies. */
export interface LinkStream {
  onFrame(type: number, payload: Buffer, head: unknown): void;
  onLinkClosed(why: string): void;
}

/** Longest a connection may take to open and be welcomed. */
export const LINK_CONNECT_TIMEOUT_MS = 2_000;

type NodeNet = typeof import("node:net");
let net: Promise<NodeNet | undefined> | undefined;
/** `node:net`, where the runtime has it (Node, Bun, Deno, Workers with nodejs_compat); else no fast path. */
const loadNet = (): Promise<NodeNet | undefined> => (net ??= import("node:net").catch(() => undefined));

/**
 * A multiplexed connection to one agent.
 *
 * @example
 * ```ts
 * const link = AgentLink.open("127.0.0.1:40123", "ag-1", internalToken);
 * if (await link.ready) link.send(EndpointFrame.ack, stream);
 * ```
 */
export class AgentLink {
  readonly address: string;
  readonly agentId: string;
  /** Resolves true once welcomed, false if the connection failed or was refused. */
  readonly ready: Promise<boolean>;
  /** Welcomed (no need to wait for `ready`). */
  welcomed = false;
  /** In memory, to an agent in this process. */
  readonly inProcess: boolean;
  /** Requests sent that have not had their response head yet (for least-outstanding choice). */
  outstanding = 0;
  alive = true;
  private readonly streams = new Map<number, LinkStream>();
  private nextStream = 1;
  private out: FastChannel | undefined;
  private socket: import("node:net").Socket | undefined;
  private local: LocalChannel | undefined;
  private onClosed: (() => void) | undefined;

  private constructor(address: string, agentId: string, token: string) {
    this.address = address;
    this.agentId = agentId;
    const door = inProcessDoors.find(agentId, address, token);
    this.inProcess = door !== undefined;
    if (door) {
      const [edgeEnd, agentEnd] = LocalChannel.pair();
      this.local = edgeEnd;
      this.out = edgeEnd;
      edgeEnd.onMessage = (type, stream, data, head) => this.streams.get(stream)?.onFrame(type, data, head);
      edgeEnd.onClose = () => this.closed(`the in-process connection to agent ${agentId} closed`);
      door.connect(agentEnd);
      this.welcomed = true;
      this.ready = Promise.resolve(true);
    } else {
      this.ready = this.connect(token);
    }
  }

  /** Start connecting; `onClosed` runs once when the link is gone (failed, refused or dropped). */
  static open(address: string, agentId: string, token: string, onClosed?: () => void): AgentLink {
    const link = new AgentLink(address, agentId, token);
    link.onClosed = onClosed;
    return link;
  }

  /** Register a request's stream; returns its id. */
  add(stream: LinkStream): number {
    const id = this.nextStream;
    this.nextStream = this.nextStream >= 0xffff_fff0 ? 1 : this.nextStream + 1;
    this.streams.set(id, stream);
    return id;
  }

  remove(id: number): void {
    this.streams.delete(id);
  }

  /** Send a message of stream `stream` (`head` with `request`). */
  send(type: EndpointFrameType, stream: number, data?: Uint8Array | string, head?: object): void {
    if (this.alive) this.out?.send(type, stream, data, head);
  }

  close(why = "closed by the edge"): void {
    this.socket?.destroy();
    this.local?.close();
    this.closed(why);
  }

  private async connect(token: string): Promise<boolean> {
    const nodeNet = await loadNet();
    const colon = this.address.lastIndexOf(":");
    if (!nodeNet || colon < 0) {
      this.closed(nodeNet ? `bad fast path address ${this.address}` : "this runtime has no TCP sockets");
      return false;
    }
    return new Promise<boolean>((resolve) => {
      const socket = nodeNet.connect({ host: this.address.slice(0, colon), port: Number(this.address.slice(colon + 1)), noDelay: true });
      this.socket = socket;
      // The edge's process does not stay up for idle links.
      socket.unref();
      const out = new FrameWriter(socket);
      const timer = setTimeout(() => {
        socket.destroy();
        resolve(false);
      }, LINK_CONNECT_TIMEOUT_MS);
      const reader = headReader((type, stream, payload, head) => {
        if (!this.welcomed) {
          const agentId = type === EndpointFrame.welcome ? (JSON.parse(payload.toString("utf8")) as { agentId?: string }).agentId : undefined;
          clearTimeout(timer);
          // Another agent on that port (a restart): not the containers the region meant.
          if (agentId !== this.agentId) {
            socket.destroy();
            return resolve(false);
          }
          this.out = new SocketChannel(out);
          this.welcomed = true;
          return resolve(true);
        }
        this.streams.get(stream)?.onFrame(type, payload, head);
      });
      socket.on("data", (chunk: Buffer) => {
        try {
          reader.push(chunk);
        } catch (e) {
          socket.destroy(e as Error);
        }
      });
      socket.on("error", () => undefined);
      socket.on("close", () => {
        clearTimeout(timer);
        resolve(false);
        this.closed(`the connection to agent ${this.agentId} (${this.address}) closed`);
      });
      out.send(encodeFrame(EndpointFrame.hello, 0, JSON.stringify({ token })));
    });
  }

  private closed(why: string): void {
    if (!this.alive) return;
    this.alive = false;
    const streams = [...this.streams.values()];
    this.streams.clear();
    for (const s of streams) s.onLinkClosed(why);
    this.onClosed?.();
  }
}
