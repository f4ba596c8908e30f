import type { Duplex } from "node:stream";
import { decodeValue } from "@ferry/core/codec";
import { lineSplitter, type FromRunner, type ToRunner } from "../runner/runner-protocol.ts";

/** The app could not be loaded in the container: `encoded` is what it threw, in the value codec. */
export class AppLoadError extends Error {
  override name = "AppLoadError";
  readonly encoded: unknown;
  constructor(encoded: unknown) {
    const decoded = decodeValue(encoded);
    super(decoded instanceof Error ? `${decoded.name}: ${decoded.message}` : String(decoded));
    this.encoded = encoded;
  }
}

/** The outcome of one input as the runner reported it. */
export type RunnerResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

/**
 * The agent's end of fd 3: sends inputs to the runner and resolves each when its output comes
 * back. Every pending input is rejected if the runner goes away.
 */
export class RunnerConnection {
  private readonly pending = new Map<string, (r: RunnerResult) => void>();
  private readyWaiter: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  onLog: (inputId: string, stream: "stdout" | "stderr", text: string) => void = () => {};
  private readonly control: Duplex;

  constructor(control: Duplex) {
    this.control = control;
    control.on("data", lineSplitter((line) => {
      if (line) this.receive(JSON.parse(line) as FromRunner);
    }));
  }

  private send(m: ToRunner): void {
    this.control.write(`${JSON.stringify(m)}\n`);
  }

  private receive(m: FromRunner): void {
    if (m.t === "ready") this.readyWaiter?.resolve();
    else if (m.t === "load_error") this.readyWaiter?.reject(new AppLoadError(m.error));
    else if (m.t === "log") this.onLog(m.id, m.stream, m.text);
    else if (m.t === "out") {
      const done = this.pending.get(m.id);
      this.pending.delete(m.id);
      done?.(m.ok ? { ok: true, value: m.value } : { ok: false, error: m.error });
    }
  }

  /** Load the bundle and find the function; rejects with an `AppLoadError`. */
  load(bundle: string, functionName: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.readyWaiter = { resolve, reject };
      this.send({ t: "load", bundle, function: functionName });
    });
  }

  run(inputId: string, args: unknown): Promise<RunnerResult> {
    return new Promise((resolve) => {
      this.pending.set(inputId, resolve);
      this.send({ t: "in", id: inputId, args });
    });
  }

  /** Run a batched function once over several inputs; resolves with one result per id, in order. */
  runBatch(inputIds: ReadonlyArray<string>, args: ReadonlyArray<unknown>): Promise<RunnerResult[]> {
    const results = inputIds.map((id) => new Promise<RunnerResult>((resolve) => this.pending.set(id, resolve)));
    this.send({ t: "batch", ids: inputIds, args });
    return Promise.all(results);
  }

  inFlight(): ReadonlyArray<string> {
    return [...this.pending.keys()];
  }

  shutdown(): void {
    if (!this.control.destroyed) this.send({ t: "shutdown" });
  }
}
