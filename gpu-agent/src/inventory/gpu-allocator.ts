/** Why a container could not get the resources it was started with. */
export class InsufficientCapacityError extends Error {
  constructor(message: string) {
    super(`insufficient capacity: ${message}`);
    this.name = "InsufficientCapacityError";
  }
}

/** What one container holds on the node. */
export interface Claim {
  readonly cpu: number;
  readonly memoryMiB: number;
  readonly gpuIndices: ReadonlyArray<number>;
}

/**
 * The node's own ledger of CPU, memory and GPUs held by its containers. The region decides
 * placement, but the agent checks every start against what it really has: a start that would
 * overcommit fails with `InsufficientCapacityError`, which the region counts against this
 * agent's bids.
 *
 * @example
 * ```ts
 * const ledger = new ResourceLedger({ cpu: 8, memoryMiB: 32768, gpuIndices: [0, 1] });
 * ledger.claim("ct-1", { cpu: 1, memoryMiB: 1024, gpuIndices: [1] });
 * ledger.free().gpuIndices; // [0]
 * ```
 */
export class ResourceLedger {
  private readonly claims = new Map<string, Claim>();
  private readonly capacity: Claim;

  constructor(capacity: Claim) {
    this.capacity = capacity;
  }

  free(): Claim {
    let cpu = this.capacity.cpu;
    let memoryMiB = this.capacity.memoryMiB;
    const held = new Set<number>();
    for (const c of this.claims.values()) {
      cpu -= c.cpu;
      memoryMiB -= c.memoryMiB;
      for (const g of c.gpuIndices) held.add(g);
    }
    return { cpu, memoryMiB, gpuIndices: this.capacity.gpuIndices.filter((g) => !held.has(g)) };
  }

  /** Hold resources for a container, or throw `InsufficientCapacityError` naming what is missing. */
  claim(containerId: string, want: Claim): void {
    const free = this.free();
    const missing = want.gpuIndices.filter((g) => !free.gpuIndices.includes(g));
    if (missing.length > 0) {
      const absent = missing.filter((g) => !this.capacity.gpuIndices.includes(g));
      throw new InsufficientCapacityError(absent.length > 0 ? `gpu ${absent.join(",")} not on this node` : `gpu ${missing.join(",")} already in use`);
    }
    if (want.cpu > free.cpu + 1e-9) throw new InsufficientCapacityError(`${want.cpu} CPU asked, ${free.cpu} free`);
    if (want.memoryMiB > free.memoryMiB) throw new InsufficientCapacityError(`${want.memoryMiB} MiB asked, ${free.memoryMiB} free`);
    this.claims.set(containerId, want);
  }

  release(containerId: string): void {
    this.claims.delete(containerId);
  }

  get containers(): number {
    return this.claims.size;
  }
}
