import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { Schema } from "effect";
import { ExecExit, execStreamOf, newId, SandboxSubjects, SIGKILL_EXIT_CODE, type ExecEvent, type ExecRequest } from "@ferry/core";
import type { ConnectedAgent } from "../agents/fleet.ts";
import { EventQueue } from "./event-queue.ts";

/** An idle exec stream sends a `ping` line this often, so no HTTP hop in between times it out. */
export const EXEC_PING_MS = 15_000;

const decodeExit = Schema.decodeUnknownSync(ExecExit);

/** Where an exec runs: the container, its agent, the id its subjects carry, and its owner. */
export interface ExecTarget {
  readonly containerId: string;
  readonly agent: ConnectedAgent;
  /** The sandbox id, or the container id of a function container. */
  readonly targetId: string;
  readonly workspaceId: string;
}

/** A live exec as the region relays it. */
export interface LiveExec {
  readonly execId: string;
  readonly targetId: string;
  readonly workspaceId: string;
  /** Set once its exit was relayed (or its container went away). */
  ended: boolean;
  /** End the stream now with `exit` (its container is gone). */
  end(exit: ExecExit): void;
}

/**
 * The region's side of execs: starts a process on the target's agent and turns its stdout,
 * stderr and exit on NATS into a stream of `ExecEvent`s; keeps the live execs so stdin can be
 * routed and so execs end when their container goes away.
 *
 * @example
 * ```ts
 * const execs = new ExecStreams(nc);
 * for await (const event of await execs.start(target, { command: ["ls"] }, signal)) …
 * ```
 */
export class ExecStreams {
  private readonly nc: NatsConnection;
  private readonly live = new Map<string, LiveExec>();
  /** Called when an exec starts or ends on a target (sandboxes count their running execs). */
  onChange: (targetId: string) => void = () => {};

  constructor(nc: NatsConnection) {
    this.nc = nc;
  }

  get(execId: string): LiveExec | undefined {
    return this.live.get(execId);
  }

  /** Execs running on `targetId`. */
  runningOn(targetId: string): number {
    let n = 0;
    for (const e of this.live.values()) if (e.targetId === targetId && !e.ended) n++;
    return n;
  }

  /** End every exec of `targetId` with `exit` (its container is gone). */
  endAll(targetId: string, exit: ExecExit): void {
    for (const e of [...this.live.values()]) if (e.targetId === targetId) e.end(exit);
  }

  /**
   * Start `req` on `target` and stream its events: `started` first, then output and `exit`.
   * Output subscriptions are in place at the server before the agent hears of the exec.
   */
  async start(target: ExecTarget, req: ExecRequest, signal?: AbortSignal): Promise<AsyncIterable<ExecEvent>> {
    const execId = newId("ex", 12);
    const queue = new EventQueue<ExecEvent>();
    const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
    const subs: Subscription[] = [];
    const ping = setInterval(() => queue.push({ type: "ping" }), EXEC_PING_MS);
    const finish = (exit: ExecExit) => {
      if (entry.ended) return;
      entry.ended = true;
      for (const stream of ["stdout", "stderr"] as const) {
        const rest = decoders[stream].decode();
        if (rest) queue.push({ type: stream, data: rest });
      }
      queue.push({ type: "exit", exit });
      cleanup();
    };
    const cleanup = () => {
      clearInterval(ping);
      for (const s of subs) s.unsubscribe();
      queue.close();
      // Stdin sent just after the end still finds the exec (and hears that it ended) for a while.
      setTimeout(() => this.live.delete(execId), EXEC_PING_MS).unref?.();
      this.onChange(target.targetId);
    };
    const entry: LiveExec = { execId, targetId: target.targetId, workspaceId: target.workspaceId, ended: false, end: finish };
    for (const subject of SandboxSubjects.outputs(target.targetId, execId)) {
      subs.push(this.nc.subscribe(subject, {
        callback: (_err, msg) => {
          if (entry.ended) return;
          const stream = execStreamOf(msg.subject);
          if (stream === "stdout" || stream === "stderr") {
            const data = decoders[stream].decode(msg.data, { stream: true });
            if (data) queue.push({ type: stream, data });
          } else if (stream === "exit") {
            let exit: ExecExit;
            try {
              exit = decodeExit(msg.json());
            } catch {
              exit = { code: SIGKILL_EXIT_CODE, signal: null, reason: "the agent sent an unreadable exit" };
            }
            finish(exit);
          }
        },
      }));
    }
    await this.nc.flush();
    this.live.set(execId, entry);
    signal?.addEventListener("abort", () => {
      if (!entry.ended) {
        entry.ended = true;
        cleanup();
      }
    }, { once: true });
    target.agent.send({
      body: "exec",
      exec: {
        containerId: target.containerId, execId, targetId: target.targetId, argv: [...req.command],
        env: { ...req.env }, workdir: req.workdir ?? "", pty: req.pty ?? false,
      },
    });
    queue.push({ type: "started", execId });
    this.onChange(target.targetId);
    return queue;
  }
}

/** An exec's events as NDJSON bytes, one event per line. */
export const execEventsAsNdjson = (events: AsyncIterable<ExecEvent>): ReadableStream<Uint8Array> => {
  const encoder = new TextEncoder();
  const iterator = events[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(`${JSON.stringify(next.value)}\n`));
    },
    async cancel() {
      await iterator.return?.();
    },
  });
};
