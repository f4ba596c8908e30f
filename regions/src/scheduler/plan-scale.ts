/** What the autoscaler knows about one function at one instant. */
export interface FunctionLoad {
  /** Input batches waiting in the queue plus batches held by containers. */
  readonly outstandingBatches: number;
  /** Containers starting or running. */
  readonly liveContainers: number;
  readonly minContainers: number;
  readonly maxContainers: number;
  readonly bufferContainers: number;
  /** Queue messages one container works at once: `maxInputs` (× `maxBatchSize` for batched functions). Default 1. */
  readonly messagesPerContainer?: number;
}

/**
 * How many containers to start now: enough for the outstanding batches (a container works
 * `messagesPerContainer` of them at once), plus the buffer while there is work, never below `minContainers` nor above
 * `maxContainers`. Scaling down is each container's own idle timeout (`scaledownWindow`).
 *
 * @example
 * ```ts
 * containersToStart({ outstandingBatches: 3, liveContainers: 1, minContainers: 0, maxContainers: 10, bufferContainers: 0 }); // 2
 * ```
 */
export const containersToStart = (load: FunctionLoad): number => {
  const perContainer = Math.max(1, load.messagesPerContainer ?? 1);
  const wanted = load.outstandingBatches > 0 ? Math.ceil(load.outstandingBatches / perContainer) + load.bufferContainers : 0;
  const desired = Math.min(load.maxContainers, Math.max(load.minContainers, wanted));
  return Math.max(0, desired - load.liveContainers);
};
