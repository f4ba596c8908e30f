import { RequestError, type NatsConnection } from "@nats-io/transport-node";
import { ConflictError, NotFoundError, SandboxSubjects, UnavailableError, type ApiError } from "@ferry/core";
import type { ExecStreams } from "./exec-stream.ts";

/** How long stdin for an exec waits for its process to start listening. */
export const STDIN_START_WAIT_MS = 10_000;
/** How long the agent may take to hand one chunk to the process. */
const STDIN_REPLY_TIMEOUT_MS = 10_000;
const RETRY_MS = 20;

/**
 * Hand a chunk of stdin (or its end, `"eof"`) to a live exec: a NATS request its agent answers
 * once the bytes are written, so chunks arrive in order and the caller learns they did. Until the
 * process listens (it is still starting) the request is retried; after its exit it is refused.
 *
 * @example
 * ```ts
 * await sendStdin(nc, execs, "ex-1", workspaceId, new TextEncoder().encode("hello\n"));
 * await sendStdin(nc, execs, "ex-1", workspaceId, "eof");
 * ```
 */
export const sendStdin = async (nc: NatsConnection, execs: ExecStreams, execId: string, workspaceId: string, chunk: Uint8Array | "eof"): Promise<void> => {
  const exec = execs.get(execId);
  if (!exec || exec.workspaceId !== workspaceId) throw new NotFoundError({ kind: "exec", id: execId });
  const ended = (): ApiError => new ConflictError({ message: `exec ${execId} has ended; its stdin is closed` });
  const deadline = Date.now() + STDIN_START_WAIT_MS;
  const payload = chunk === "eof" ? new Uint8Array() : chunk;
  // An empty chunk would read as the end of stdin.
  if (payload.byteLength === 0 && chunk !== "eof") return;
  while (true) {
    if (exec.ended) throw ended();
    try {
      const reply = (await nc.request(SandboxSubjects.stdin(exec.targetId, execId), payload, { timeout: STDIN_REPLY_TIMEOUT_MS })).json<{ ok: boolean; error?: string }>();
      if (!reply.ok) throw ended();
      return;
    } catch (e) {
      if (e instanceof ConflictError) throw e;
      const noListener = e instanceof RequestError && e.isNoResponders();
      if (!noListener || Date.now() > deadline) {
        if (exec.ended) throw ended();
        throw new UnavailableError({ message: `exec ${execId} did not take its stdin: ${e instanceof Error ? e.message : String(e)}` });
      }
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }
};
