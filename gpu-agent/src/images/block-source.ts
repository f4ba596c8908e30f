import { assertBlockDigest, BlockNotFoundError } from "@ferry/core";

/** Where a node's block cache fetches the blocks it does not hold. */
export interface BlockSource {
  /** The bytes stored under `digest`, unverified (the cache verifies); `BlockNotFoundError` when absent. */
  fetchBlock(digest: string): Promise<Uint8Array>;
  /** Where the bytes come from, for error messages. */
  readonly name: string;
}

/** A block request to the region failed (other than a 404). */
export class BlockFetchError extends Error {
  override name = "BlockFetchError";
  readonly status: number | undefined;
  constructor(url: string, detail: string, status?: number) {
    super(`fetching ${url} failed: ${detail}; check that the region is reachable and the agent's internal token is right`);
    this.status = status;
  }
}

/**
 * The region's block routes (`GET /internal/blocks/:digest`, behind the internal token) as a
 * block source.
 *
 * @example
 * ```ts
 * const cache = await BlockCache.open({ dir, source: regionBlockSource(regionUrl, internalToken) });
 * ```
 */
export const regionBlockSource = (regionUrl: string, internalToken: string): BlockSource => {
  const base = `${regionUrl.replace(/\/+$/, "")}/internal/blocks`;
  return {
    name: base,
    fetchBlock: async (digest) => {
      assertBlockDigest(digest);
      const url = `${base}/${digest}`;
      const res = await fetch(url, { headers: { "x-ferry-internal-token": internalToken } }).catch((e: unknown) => {
        throw new BlockFetchError(url, String(e));
      });
      if (res.status === 404) {
        await res.body?.cancel();
        throw new BlockNotFoundError({ digest });
      }
      if (!res.ok) throw new BlockFetchError(url, `HTTP ${res.status} ${(await res.text().catch(() => "")).slice(0, 200)}`, res.status);
      return new Uint8Array(await res.arrayBuffer());
    },
  };
};
