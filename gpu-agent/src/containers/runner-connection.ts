import type { Duplex } from "node:stream";
import { decodeValue } from "@ferry/core/codec";
import { lineSplitter, type FromRunner, type ToRunner } from "../runner/runner-protocol.ts";
import type { BridgeRequest, BridgeResponse } from "./api-bridge.ts";
import type { VolumeRequest } from "../volumes/container-volumes.ts";

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
  /** Performs user code's API requests (the container's `ApiBridge`); none: every request answers 503. */
  private api: ((req: BridgeRequest, signal: AbortSignal) => Promise<BridgeResponse>) | undefined;
  private readonly apiCalls = new Map<string, AbortController>();
  /** Serves user code's `vol.commit()` / `vol.reload()` (the container's volumes); none: every request fails. */
  private volumes: ((req: VolumeRequest) => Promise<unknown>) | undefined;
  /** Carries web endpoint bodies between the runner and the region; none: endpoint traffic is dropped. */
  private endpoints: { handle(m: Extract<FromRunner, { t: "ep_pull" | "ep_res" }>): void } | undefined;

  constructor(control: Duplex) {
    this.control = control;
    control.on("data", lineSplitter((line) => {
      if (line) this.receive(JSON.parse(line) as FromRunner);
    }));
    // The runner is gone: its API requests have no one to answer to.
    control.on("close", () => this.abortApiCalls());
  }

  /** Serve the runner's API requests with `handle` (see `ApiBridge`). */
  serveApi(handle: (req: BridgeRequest, signal: AbortSignal) => Promise<BridgeResponse>): void {
    this.api = handle;
  }

  /** Relay the runner's web endpoint traffic (body pulls, response parts) with `relay` (see `EndpointRelay`). */
  serveEndpoints(relay: { handle(m: Extract<FromRunner, { t: "ep_pull" | "ep_res" }>): void }): void {
    this.endpoints = relay;
  }

  /** Serve the runner's volume requests with `handle` (see `ContainerVolumes`). */
  serveVolumes(handle: (req: VolumeRequest) => Promise<unknown>): void {
    this.volumes = handle;
  }

  private relayVolume(id: string, req: VolumeRequest): void {
    const answer = this.volumes ? this.volumes(req) : Promise.reject(new Error("no volume is mounted in this container"));
    void answer.then(
      (value) => !this.control.destroyed && this.send({ t: "volume_res", id, ok: true, value }),
      (e: unknown) => !this.control.destroyed && this.send({ t: "volume_res", id, ok: false, error: e instanceof Error ? e.message : String(e) }),
    );
  }

  private relayApi(id: string, req: BridgeRequest): void {
    const ctl = new AbortController();
    this.apiCalls.set(id, ctl);
    const answer = this.api
      ? this.api(req, ctl.signal)
      : Promise.resolve<BridgeResponse>({ status: 503, contentType: "application/json", body: JSON.stringify({ error: { type: "UnavailableError", message: "this container has no API bridge" } }) });
    void answer
      .catch((e: unknown): BridgeResponse => ({ status: 500, contentType: "application/json", body: JSON.stringify({ error: { type: "InternalError", message: `the API bridge failed: ${String(e)}` } }) }))
      .then((r) => {
        if (this.apiCalls.delete(id) && !this.control.destroyed) this.send({ t: "api_res", id, status: r.status, body: r.body, contentType: r.contentType });
      });
  }

  private abortApiCalls(): void {
    for (const ctl of this.apiCalls.values()) ctl.abort();
    this.apiCalls.clear();
  }

  /** Send a message to the runner, unless its channel is gone. */
  sendToRunner(m: ToRunner): void {
    if (!this.control.destroyed) this.send(m);
  }

  private send(m: ToRunner): void {
    // Lines sent in one turn of the event loop leave together, as one write: one system call under load.
    if (this.queued.length === 0) setImmediate(this.flush);
    this.queued.push(`${JSON.stringify(m)}\n`);
  }

  private queued: string[] = [];
  private readonly flush = (): void => {
    const lines = this.queued;
    this.queued = [];
    if (!this.control.destroyed) this.control.write(lines.length === 1 ? lines[0]! : lines.join(""));
  };

  private receive(m: FromRunner): void {
    if (m.t === "ready") this.readyWaiter?.resolve();
    else if (m.t === "load_error") this.readyWaiter?.reject(new AppLoadError(m.error));
    else if (m.t === "log") this.onLog(m.id, m.stream, m.text);
    else if (m.t === "ep_pull" || m.t === "ep_res") this.endpoints?.handle(m);
    else if (m.t === "api") this.relayApi(m.id, { method: m.method, path: m.path, body: m.body });
    else if (m.t === "volume") this.relayVolume(m.id, m.op === "applied" ? { op: "applied", name: m.name, failed: m.failed } : { op: m.op, name: m.name });
    else if (m.t === "api_abort") {
      this.apiCalls.get(m.id)?.abort();
      this.apiCalls.delete(m.id);
    }
    else if (m.t === "out") {
      const done = this.pending.get(m.id);
      this.pending.delete(m.id);
      done?.(m.ok ? { ok: true, value: m.value } : { ok: false, error: m.error });
    }
  }

  /**
   * Load the bundle and find the function, or construct the class (with `params`, encoded) and
   * run its `enter`; rejects with an `AppLoadError`.
   */
  load(bundle: string, functionName: string, params?: unknown): Promise<void> {
    return new Promise((resolve, reject) => {
      this.readyWaiter = { resolve, reject };
      this.send({ t: "load", bundle, function: functionName, ...(params === undefined ? {} : { params }) });
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
