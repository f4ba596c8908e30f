import * as grpc from "@grpc/grpc-js";
import { loadAgentControl, type AgentMessage, type Register, type RegionCommand } from "@ferry/core/node";

/** Delay before redialling a region that dropped or refused the stream. */
const RECONNECT_DELAY_MS = 500;

/**
 * The agent's control stream to its region: registers on every (re)connect, sends reports,
 * and hands region commands to `onCommand`.
 */
export class RegionLink {
  private stream: grpc.ClientDuplexStream<AgentMessage, RegionCommand> | undefined;
  private closed = false;
  private readonly client: grpc.Client & { Connect(): grpc.ClientDuplexStream<AgentMessage, RegionCommand> };
  private readonly register: Register;
  private readonly onCommand: (c: RegionCommand) => void;
  /** Resolves once the region acknowledged the first registration. */
  readonly registered: Promise<void>;
  private markRegistered: () => void = () => {};

  constructor(address: string, register: Register, onCommand: (c: RegionCommand) => void) {
    const AgentControl = loadAgentControl();
    this.client = new AgentControl(address, grpc.credentials.createInsecure()) as unknown as RegionLink["client"];
    this.register = register;
    this.onCommand = onCommand;
    this.registered = new Promise((r) => (this.markRegistered = r));
    this.connect();
  }

  private connect(): void {
    if (this.closed) return;
    const stream = this.client.Connect();
    this.stream = stream;
    stream.on("data", (c: RegionCommand) => {
      if (c.body === "registered") this.markRegistered();
      this.onCommand(c);
    });
    const retry = () => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      setTimeout(() => this.connect(), RECONNECT_DELAY_MS);
    };
    stream.on("error", retry);
    stream.on("end", retry);
    stream.write({ body: "register", register: this.register });
  }

  send(message: AgentMessage): void {
    this.stream?.write(message);
  }

  close(): void {
    this.closed = true;
    this.stream?.end();
    this.stream = undefined;
    this.client.close();
  }
}
