import type { Duplex } from "node:stream";
import type { ExecExit } from "@ferry/core";
import { lineSplitter } from "../runner/runner-protocol.ts";
import type { FromExecServer, ToExecServer } from "./exec-protocol.ts";

/** Where one process's output and end go. */
export interface ExecSink {
  output(stream: "stdout" | "stderr", bytes: Uint8Array): void;
  exit(exit: ExecExit): void;
}

/** A running exec as its caller drives it. */
export interface ExecHandle {
  writeStdin(bytes: Uint8Array): void;
  endStdin(): void;
  kill(signal: NodeJS.Signals): void;
}

/** The sandbox could not serve: its exec server failed to start. */
export class ExecServerFailedError extends Error {
  override name = "ExecServerFailedError";
}

/**
 * The agent's end of a sandbox's fd 3: starts processes in the exec server, relays their stdio,
 * and collects snapshot archives.
 *
 * @example
 * ```ts
 * const server = new ExecServerConnection(sandbox.control);
 * await server.ready;
 * const handle = server.exec("ex-1", { argv: ["echo", "hi"], env: {}, cwd: "/tmp", pty: false }, sink);
 * ```
 */
export class ExecServerConnection {
  private readonly control: Duplex;
  private readonly sinks = new Map<string, ExecSink>();
  private readonly snapshots = new Map<string, { chunks: Buffer[]; size: number; maxBytes: number; resolve: (b: Buffer) => void; reject: (e: Error) => void }>();
  /** Resolves when the server is ready (its snapshot restored); rejects when it cannot serve. */
  readonly ready: Promise<void>;
  private settleReady: { resolve: () => void; reject: (e: Error) => void } = { resolve: () => {}, reject: () => {} };

  constructor(control: Duplex) {
    this.control = control;
    this.ready = new Promise((resolve, reject) => (this.settleReady = { resolve, reject }));
    this.ready.catch(() => undefined);
    // The channel is reachable from inside the sandbox: a malformed line is dropped, never thrown.
    control.on("data", lineSplitter((line) => {
      if (!line) return;
      let message: FromExecServer;
      try {
        message = JSON.parse(line) as FromExecServer;
      } catch {
        return;
      }
      if (typeof message === "object" && message !== null) this.receive(message);
    }));
    control.on("close", () => this.settleReady.reject(new ExecServerFailedError("the exec server went away")));
  }

  /** Execs still running. */
  get running(): number {
    return this.sinks.size;
  }

  exec(id: string, spec: { readonly argv: ReadonlyArray<string>; readonly env: Readonly<Record<string, string>>; readonly cwd: string; readonly pty: boolean }, sink: ExecSink): ExecHandle {
    this.sinks.set(id, sink);
    this.send({ t: "exec", id, ...spec });
    return {
      writeStdin: (bytes) => this.send({ t: "stdin", id, data: Buffer.from(bytes).toString("base64") }),
      endStdin: () => this.send({ t: "stdin_end", id }),
      kill: (signal) => this.send({ t: "kill", id, signal }),
    };
  }

  /** End every running exec's relay with `exit` (the sandbox is gone under them). */
  abandonAll(exit: ExecExit): void {
    const sinks = [...this.sinks.values()];
    this.sinks.clear();
    for (const s of sinks) s.exit(exit);
    for (const s of this.snapshots.values()) s.reject(new Error(exit.reason ?? "the sandbox ended"));
    this.snapshots.clear();
  }

  /** Tar `paths` inside the sandbox; rejects above `maxBytes`. */
  snapshot(id: string, paths: ReadonlyArray<string>, maxBytes: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.snapshots.set(id, { chunks: [], size: 0, maxBytes, resolve, reject });
      this.send({ t: "snapshot", id, paths });
    });
  }

  private send(m: ToExecServer): void {
    if (!this.control.destroyed) this.control.write(`${JSON.stringify(m)}\n`);
  }

  private receive(m: FromExecServer): void {
    switch (m.t) {
      case "ready":
        this.settleReady.resolve();
        break;
      case "fatal":
        this.settleReady.reject(new ExecServerFailedError(m.error));
        break;
      case "out":
        if (typeof m.data === "string" && (m.stream === "stdout" || m.stream === "stderr")) this.sinks.get(m.id)?.output(m.stream, Buffer.from(m.data, "base64"));
        break;
      case "exit": {
        const sink = this.sinks.get(m.id);
        this.sinks.delete(m.id);
        sink?.exit({
          code: Number.isInteger(m.code) ? m.code : 1, signal: typeof m.signal === "string" ? m.signal : null,
          ...(typeof m.error === "string" ? { reason: m.error } : {}),
        });
        break;
      }
      case "snap_data": {
        const s = this.snapshots.get(m.id);
        if (!s || typeof m.data !== "string") break;
        const chunk = Buffer.from(m.data, "base64");
        s.size += chunk.byteLength;
        if (s.size > s.maxBytes) {
          this.snapshots.delete(m.id);
          s.reject(new Error(`the snapshot is over ${s.maxBytes} bytes (maxSnapshotBytes): keep less in /tmp and /workspace`));
        } else s.chunks.push(chunk);
        break;
      }
      case "snap_end": {
        const s = this.snapshots.get(m.id);
        this.snapshots.delete(m.id);
        if (s) m.error ? s.reject(new Error(m.error)) : s.resolve(Buffer.concat(s.chunks));
        break;
      }
    }
  }
}
