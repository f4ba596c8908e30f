import type { FerryClient } from "../client/ferry-client.ts";

interface LogEvent { ts: number; functionName: string; containerId: string; inputId?: string; stream: "stdout" | "stderr" | "system"; line: string }

/** Print an app's container output, each line tagged with its function and container. */
export const streamAppLogs = async (client: FerryClient, app: string, opts: { follow: boolean; signal?: AbortSignal; json?: boolean }): Promise<void> => {
  const res = await client.raw("GET", `/v1/apps/${encodeURIComponent(app)}/logs?follow=${opts.follow ? 1 : 0}`, undefined, opts.signal);
  if (!res.body) return;
  const decoder = new TextDecoder();
  let tail = "";
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      const events = (tail + decoder.decode(chunk, { stream: true })).split("\n\n");
      tail = events.pop() ?? "";
      for (const ev of events) {
        if (!ev.startsWith("data: ")) continue;
        const data = ev.slice(6);
        if (opts.json) {
          process.stdout.write(`${data}\n`);
          continue;
        }
        const e = JSON.parse(data) as LogEvent;
        const tag = `[${e.functionName} ${e.containerId}]`;
        (e.stream === "stderr" ? process.stderr : process.stdout).write(`${tag} ${e.line}\n`);
      }
    }
  } catch (e) {
    if (!opts.signal?.aborted) throw e;
  }
};
