import type { FerryClient } from "../client/ferry-client.ts";
import { Limits } from "../../../core/src/limits/limits.ts";

const encoder = new TextEncoder();
const toBase64 = (bytes: Uint8Array): string => {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
};

/**
 * A running process's stdin. Writes are sent in order (each waits for the ones before it, so they
 * need not be awaited one by one), split into chunks of at most `maxStdinChunkBytes`; `end()`
 * closes stdin once everything written before it has arrived.
 *
 * @example
 * ```ts
 * const p = await sb.exec(["cat"]);
 * p.stdin.write("hello\n");
 * await p.stdin.end();
 * ```
 */
export class ExecStdin {
  private readonly client: FerryClient;
  private readonly path: string;
  /** Every send waits for the one before it; never rejects, so one failure does not stall the rest. */
  private chain: Promise<void> = Promise.resolve();
  private ended: Promise<void> | undefined;

  constructor(client: FerryClient, path: string) {
    this.client = client;
    this.path = path;
  }

  /** Send text (as UTF-8) or bytes; resolves once the process has them. */
  write(data: string | Uint8Array): Promise<void> {
    if (this.ended) return quiet(Promise.reject(new Error("stdin is closed: write before end()")));
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    const parts: Promise<void>[] = [];
    for (let at = 0; at < bytes.byteLength; at += Limits.maxStdinChunkBytes) {
      parts.push(this.send({ data: toBase64(bytes.subarray(at, Math.min(bytes.byteLength, at + Limits.maxStdinChunkBytes))) }));
    }
    return quiet(Promise.all(parts).then(() => undefined));
  }

  /** Close stdin (the process reads end-of-file); resolves once it has. */
  end(): Promise<void> {
    this.ended ??= quiet(this.send({ eof: true }));
    return this.ended;
  }

  private send(body: { data?: string; eof?: boolean }): Promise<void> {
    const sent = this.chain.then(() => this.client.request<unknown>("POST", this.path, body)).then(() => undefined);
    this.chain = sent.catch(() => undefined);
    return sent;
  }
}

/** A write nobody awaits must not crash the process when it fails (the exec ended, say); awaiting it still throws. */
const quiet = (p: Promise<void>): Promise<void> => {
  p.catch(() => undefined);
  return p;
};
