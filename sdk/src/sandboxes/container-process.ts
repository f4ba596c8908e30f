import type { FerryClient } from "../client/ferry-client.ts";
import { ExecStdin } from "./exec-stdin.ts";
import { outputStream, type ExecOutputStream } from "./exec-output-stream.ts";
import { ndjsonLines } from "./ndjson-lines.ts";

/** How a process ended. `code` is its exit status, or 128+N when signal N killed it. */
export interface ExecExit {
  readonly code: number;
  /** The signal that ended it (`"SIGKILL"`), if one did. */
  readonly signal?: string | null;
  /** Killed by the kernel's OOM killer: its sandbox went over its `memory`. */
  readonly oomKilled?: boolean;
  /** Why it ended, when not by itself (`sandbox terminated (timeout: …)`, `cannot run "x": not found`). */
  readonly reason?: string;
}

/** What `exec` accepts besides the command. */
export interface ExecOptions {
  /** Working directory (default: the sandbox's workdir, `/workspace`; a function container's app dir). */
  readonly workdir?: string;
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>>;
  /** Run on a pseudo-terminal (interactive shells). */
  readonly pty?: boolean;
}

type WireEvent =
  | { type: "started"; execId: string }
  | { type: "stdout" | "stderr"; data: string }
  | { type: "exit"; exit: ExecExit }
  | { type: "ping" };

/**
 * A process started with `sb.exec(…)` (or `ferry container exec`): `stdin` to write to, `stdout`
 * and `stderr` as text streams while it runs, and `wait()` for its exit code.
 *
 * @example
 * ```ts
 * const p = await sb.exec(["bash", "-c", "read name; echo hello $name"]);
 * await p.stdin.write("ferry\n");
 * await p.stdin.end();
 * console.log(await p.stdout.readText()); // "hello ferry\n"
 * console.log(await p.wait());            // 0
 * ```
 */
export class ContainerProcess {
  readonly execId: string;
  readonly stdin: ExecStdin;
  readonly stdout: ExecOutputStream;
  readonly stderr: ExecOutputStream;
  private readonly ended: Promise<ExecExit>;
  private exitInfo: ExecExit | undefined;

  private constructor(execId: string, stdin: ExecStdin, stdout: ExecOutputStream, stderr: ExecOutputStream, ended: Promise<ExecExit>) {
    this.execId = execId;
    this.stdin = stdin;
    this.stdout = stdout;
    this.stderr = stderr;
    this.ended = ended;
    ended.then((e) => (this.exitInfo = e), () => undefined);
  }

  /** The exit code once the process ended (128+N when killed by signal N, 137 for an OOM kill). */
  async wait(): Promise<number> {
    return (await this.ended).code;
  }

  /** How it ended, once it has (`undefined` while it runs). */
  get exit(): ExecExit | undefined {
    return this.exitInfo;
  }

  /**
   * Start `command` through `basePath` (`/v1/sandboxes/<id>` or `/v1/containers/<id>`); resolves
   * once it runs, so stdin can be written.
   */
  static async start(client: FerryClient, basePath: string, command: ReadonlyArray<string>, options: ExecOptions = {}): Promise<ContainerProcess> {
    const res = await client.raw("POST", `${basePath}/exec`, { command, workdir: options.workdir, env: options.env, pty: options.pty });
    if (!res.body) throw new Error("the platform answered the exec without a stream");
    const lines = ndjsonLines(res.body as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    const first = await lines.next();
    const started = first.done ? undefined : (JSON.parse(first.value) as WireEvent);
    if (started?.type !== "started") throw new Error("the exec stream did not start");
    const out = outputStream();
    const err = outputStream();
    const ended = (async (): Promise<ExecExit> => {
      for (let next = await lines.next(); !next.done; next = await lines.next()) {
        const event = JSON.parse(next.value) as WireEvent;
        if (event.type === "stdout") out.push(event.data);
        else if (event.type === "stderr") err.push(event.data);
        else if (event.type === "exit") {
          out.close();
          err.close();
          return event.exit;
        }
      }
      throw new Error(`lost the connection to exec ${started.execId} before it ended`);
    })();
    ended.catch((e: Error) => {
      out.fail(e);
      err.fail(e);
    });
    return new ContainerProcess(started.execId, new ExecStdin(client, `${basePath}/execs/${started.execId}/stdin`), out.stream, err.stream, ended);
  }
}
