import type { Bus } from "@ferry/core";
import { DictStore } from "./dict-store.ts";
import { QueueStore } from "./queue-store.ts";

export { DictStore } from "./dict-store.ts";
export { QueueStore } from "./queue-store.ts";
export { storeRoutes, type StoreDeps } from "./store-routes.ts";

/** How often the region purges expired Dict entries. */
export const DICT_SWEEP_INTERVAL_MS = 60_000;

/** A region's Dicts and Queues, and the periodic purge of expired Dict entries. */
export interface Stores {
  readonly dicts: DictStore;
  readonly queues: QueueStore;
  /** Stop the periodic purge. */
  close(): void;
}

/**
 * The Dict and Queue stores over `bus` (a region's own NATS; with several regions, the replicated
 * state cluster with `replicas` copies, so every region sees the same Dicts and Queues and they
 * outlive a region), with expired Dict entries purged every `sweepIntervalMs`.
 *
 * @example
 * ```ts
 * const stores = startStores(bus);
 * app.route("/internal/stores", storeRoutes(stores));
 * ```
 */
export const startStores = (bus: Bus["Service"], opts: { readonly sweepIntervalMs?: number; readonly replicas?: number } = {}): Stores => {
  const dicts = new DictStore(bus.js, bus.jsm, opts.replicas);
  const queues = new QueueStore(bus.nc, bus.js, bus.jsm, opts.replicas);
  let sweeping = false;
  const timer = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    void dicts.sweepExpired().catch(() => 0).finally(() => (sweeping = false));
  }, opts.sweepIntervalMs ?? DICT_SWEEP_INTERVAL_MS);
  timer.unref?.();
  return { dicts, queues, close: () => clearInterval(timer) };
};
