import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { publishQuietly, SandboxSubjects, type ExecExit } from "@ferry/core";
import type { ExecHandle, ExecSink } from "./exec-server-connection.ts";

/** The agent's reply to a stdin chunk: written, or why not. */
export type StdinReply = { readonly ok: true } | { readonly ok: false; readonly error: string };

/**
 * One exec's stdio on NATS, on the agent's side: stdin chunks arrive as requests on
 * `SandboxSubjects.stdin` (an empty one closes stdin) and are answered once handed to the
 * process; output and the exit are published for the region, which relays them to the caller.
 * Created before the process starts, so no stdin chunk finds nobody listening once it runs.
 *
 * @example
 * ```ts
 * const relay = new ExecRelay(nc, "sb-1", "ex-1");
 * relay.attach(server.exec("ex-1", spec, relay));
 * ```
 */
export class ExecRelay implements ExecSink {
  private readonly nc: NatsConnection;
  private readonly targetId: string;
  private readonly execId: string;
  private readonly stdin: Subscription;
  private handle: ExecHandle | undefined;
  private pending: Array<Uint8Array | "eof"> = [];
  private ended = false;
  private readonly onEnd: () => void;

  constructor(nc: NatsConnection, targetId: string, execId: string, onEnd: () => void = () => {}) {
    this.nc = nc;
    this.targetId = targetId;
    this.execId = execId;
    this.onEnd = onEnd;
    this.stdin = nc.subscribe(SandboxSubjects.stdin(targetId, execId), {
      callback: (_err, msg) => {
        const reply: StdinReply = this.ended ? { ok: false, error: `exec ${execId} has ended` } : { ok: true };
        if (!this.ended) this.deliver(msg.data.byteLength === 0 ? "eof" : msg.data);
        msg.respond(JSON.stringify(reply));
      },
    });
  }

  /** Connect the process; stdin that arrived before it is delivered now, in order. */
  attach(handle: ExecHandle): void {
    this.handle = handle;
    const queued = this.pending;
    this.pending = [];
    for (const item of queued) this.deliver(item);
  }

  /** Whether the exec has ended (its exit is published). */
  get done(): boolean {
    return this.ended;
  }

  output(stream: "stdout" | "stderr", bytes: Uint8Array): void {
    if (this.ended) return;
    this.publish(stream === "stdout" ? SandboxSubjects.stdout(this.targetId, this.execId) : SandboxSubjects.stderr(this.targetId, this.execId), bytes);
  }

  exit(exit: ExecExit): void {
    if (this.ended) return;
    this.ended = true;
    this.publish(SandboxSubjects.exit(this.targetId, this.execId), JSON.stringify(exit));
    if (!this.nc.isClosed()) this.stdin.unsubscribe();
    this.onEnd();
  }

  /** A publish after the agent closed its connection (it is shutting down) is dropped. */
  private publish(subject: string, payload: Uint8Array | string): void {
    publishQuietly(this.nc, subject, payload);
  }

  private deliver(item: Uint8Array | "eof"): void {
    if (!this.handle) return void this.pending.push(item);
    if (item === "eof") this.handle.endStdin();
    else this.handle.writeStdin(item);
  }
}
