import { App } from "../app.ts";
import { FerryClient } from "../client/ferry-client.ts";
import { ContainerProcess, type ExecOptions } from "./container-process.ts";
import { Image } from "../images/image.ts";
import { sandboxImageFields } from "./sandbox-image.ts";

/** Options of `Sandbox.create`; durations in seconds. */
export interface SandboxCreateOptions {
  /** The app it belongs to (an `App`, or an app's name or id); an unknown name creates an empty deployed app. */
  readonly app: App | string;
  /** The app's environment (default "main"). */
  readonly environment?: string;
  /**
   * The image it starts from (default: the default image, "ferry/node"): any `Image`, built and
   * uploaded first as `ferry deploy` does (an unchanged image is a cache hit and uploads nothing);
   * or a snapshot (the `Image` `sb.snapshotFilesystem()` returns), or its id. Execs get the image's
   * `env` and start in its `workdir` (default /workspace when it sets none).
   */
  readonly image?: Image | string;
  /** Progress of building and uploading a built `image`, one line per event (build steps, cache hits, blocks uploaded). */
  readonly onProgress?: (line: string) => void;
  /** Seconds from creation until it is terminated (default 300, at most 86,400). */
  readonly timeout?: number;
  /** Terminate it after this many seconds with no exec running (default: never). */
  readonly idleTimeout?: number;
  /** `"H100"`, `"A100-80GB:2"`, `"any"`, or a fallback list, as for functions. */
  readonly gpu?: string | ReadonlyArray<string>;
  /** CPU cores: reserved, and enforced as its CPU quota. */
  readonly cpu?: number;
  /** Memory in MiB (default 512): reserved, and a hard limit, above which the kernel OOM-kills in the sandbox. */
  readonly memory?: number;
  /**
   * `"outbound"` (the default, or the mirrored function's): it may open connections out (the
   * Internet, DNS), never to the platform's own services; `"none"`: a private loopback only.
   */
  readonly network?: "outbound" | "none";
  readonly region?: string | ReadonlyArray<string>;
  readonly cloud?: string | ReadonlyArray<string>;
  /** Working directory of its execs (default `/workspace`, a writable directory kept in snapshots). */
  readonly workdir?: string;
  /** Environment variables of every exec. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Mirror a deployed function (`ferry shell`): its app bundle at /opt/ferry/app (the workdir), its
   * GPU, CPU, memory, region and cloud unless given here.
   */
  readonly functionId?: string;
}

/** A sandbox's state as the platform knows it. */
export interface SandboxInfo {
  readonly id: string;
  readonly app: { readonly id: string; readonly name: string };
  readonly function: string | null;
  readonly region: string;
  readonly state: "starting" | "running" | "terminated";
  readonly createdAt: number;
  readonly terminatedAt: number | null;
  /** How it ended: `terminated`, `timeout: …`, `idle timeout: …`, `out of memory: …`, `agent disconnected`. */
  readonly exitReason: string | null;
  readonly timeout: number;
  readonly idleTimeout: number | null;
  readonly cpu: number;
  readonly memory: number;
  readonly gpu: ReadonlyArray<string>;
  readonly workdir: string;
}

/** How often `wait` looks at the sandbox's state. */
const WAIT_POLL_MS = 250;

/**
 * A sandbox: a long-lived container to run commands in (`exec`), with streaming stdio, its own
 * resources and limits, and outbound network unless `network: "none"`. It ends when terminated, at its `timeout`, or after
 * `idleTimeout` without a running exec.
 *
 * @example
 * ```ts
 * const sb = await Sandbox.create({ app, timeout: 600, memory: 1024 });
 * const p = await sb.exec(["bash", "-c", "echo hello from $FERRY_SANDBOX_ID"]);
 * console.log(await p.stdout.readText(), await p.wait());
 * await sb.terminate();
 * ```
 */
export class Sandbox {
  readonly id: string;
  private readonly client: Promise<FerryClient>;

  constructor(id: string, client?: FerryClient) {
    this.id = id;
    this.client = client ? Promise.resolve(client) : FerryClient.fromEnvironment();
    this.client.catch(() => undefined);
  }

  /**
   * Create a sandbox; resolves once it runs (placed on an agent, its exec server up). A built
   * `image` is built and published first: a failed build step rejects with the builder's error.
   *
   * @example
   * ```ts
   * const image = Image.debianSlim().aptInstall("jq").env({ MODE: "dev" });
   * const sb = await Sandbox.create({ app: "demo", image, onProgress: console.log });
   * ```
   */
  static async create(options: SandboxCreateOptions, client?: FerryClient): Promise<Sandbox> {
    const c = client ?? await FerryClient.fromEnvironment();
    const { app, image, onProgress, ...rest } = options;
    const imageFields = await sandboxImageFields(c, image, { onProgress });
    const info = await c.request<SandboxInfo>("POST", "/v1/sandboxes", {
      ...rest,
      app: app instanceof App ? app.name : app,
      ...imageFields,
    });
    return new Sandbox(info.id, c);
  }

  /** A handle on an existing sandbox by id, from any process (another workspace's is not found). */
  static fromId(id: string, client?: FerryClient): Sandbox {
    return new Sandbox(id, client);
  }

  /** Start a process; resolves once it runs. */
  async exec(command: ReadonlyArray<string>, options: ExecOptions = {}): Promise<ContainerProcess> {
    return ContainerProcess.start(await this.client, `/v1/sandboxes/${encodeURIComponent(this.id)}`, command, options);
  }

  /** Its current state, and how it ended once it has. */
  async info(): Promise<SandboxInfo> {
    return (await this.client).request<SandboxInfo>("GET", `/v1/sandboxes/${encodeURIComponent(this.id)}`);
  }

  /** Kill it and everything running in it; resolves once it is gone. */
  async terminate(): Promise<void> {
    await (await this.client).request("POST", `/v1/sandboxes/${encodeURIComponent(this.id)}/terminate`);
  }

  /** Wait until it has ended (timeout, idle timeout, terminate); `timeout` in seconds. */
  async wait(options: { timeout?: number } = {}): Promise<SandboxInfo> {
    const deadline = options.timeout === undefined ? Infinity : Date.now() + options.timeout * 1000;
    for (;;) {
      const info = await this.info();
      if (info.state === "terminated") return info;
      if (Date.now() >= deadline) throw new Error(`sandbox ${this.id} is still ${info.state} after ${options.timeout}s`);
      await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
    }
  }

  /**
   * Snapshot its /tmp and /workspace as an `Image`: start new sandboxes from it (`image`), or
   * deploy functions with it (`app.function({ image: snap }, …)`), which read its /workspace.
   */
  async snapshotFilesystem(): Promise<Image> {
    const s = await (await this.client).request<{ id: string }>("POST", `/v1/sandboxes/${encodeURIComponent(this.id)}/snapshot`);
    return Image.fromSnapshot(s.id);
  }
}
