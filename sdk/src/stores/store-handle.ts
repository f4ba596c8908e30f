import { FerryClient } from "../client/ferry-client.ts";
import { FerryApiError } from "../errors.ts";

/** Options of `Dict.fromName` and `Queue.fromName`. */
export interface FromNameOptions {
  /** Create the object on first use if it does not exist (default false: a missing one fails with 404). */
  readonly createIfMissing?: boolean;
  /** The platform to use; by default the configured one (`FerryClient.fromEnvironment`), which inside a container is the platform running it. */
  readonly client?: FerryClient;
}

const KINDS = { dicts: { one: "dict", cls: "Dict" }, queues: { one: "queue", cls: "Queue" } } as const;

/**
 * The API side of one named Dict or Queue: resolves the client lazily (so `fromName` is
 * synchronous, as in Modal), creates the object on first use when asked, and turns a 404 into a
 * message that says how to create it.
 */
export class StoreHandle {
  readonly name: string;
  private readonly kind: keyof typeof KINDS;
  private readonly options: FromNameOptions;
  private ready: Promise<FerryClient> | undefined;

  constructor(kind: keyof typeof KINDS, name: string, options: FromNameOptions) {
    this.kind = kind;
    this.name = name;
    this.options = options;
  }

  /** The client, once the object is known to exist (created here with `createIfMissing`). */
  private client(): Promise<FerryClient> {
    this.ready ??= (async () => {
      const client = this.options.client ?? await FerryClient.fromEnvironment();
      if (this.options.createIfMissing) await client.request("PUT", this.path("")).catch((e: unknown) => this.explain(e));
      return client;
    })();
    this.ready.catch(() => (this.ready = undefined));
    return this.ready;
  }

  /** Call the object's route `suffix` (`/get`, `/len?…`, or "" for the object itself). */
  async request<T>(method: string, suffix: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const client = await this.client();
    return client.request<T>(method, this.path(suffix), body, signal).catch((e: unknown) => this.explain(e));
  }

  private path(suffix: string): string {
    return `/v1/${this.kind}/${encodeURIComponent(this.name)}${suffix}`;
  }

  private explain(e: unknown): never {
    if (e instanceof FerryApiError && e.status === 404 && e.type === "NotFoundError") {
      const { one, cls } = KINDS[this.kind];
      throw new FerryApiError(404, e.type, `${one} ${this.name} not found: create it with ${cls}.fromName(${JSON.stringify(this.name)}, { createIfMissing: true }) or \`ferry ${one} create ${this.name}\``, e.field);
    }
    throw e;
  }
}

/** Delete a named Dict or Queue and its contents (`Dict.delete`, `Queue.delete`). */
export const deleteStore = async (kind: keyof typeof KINDS, name: string, client?: FerryClient): Promise<void> => {
  await new StoreHandle(kind, name, { client }).request("DELETE", "");
};
