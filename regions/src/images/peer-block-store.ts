import { BlockNotFoundError, type BlockStore } from "@ferry/core";
import { INTERNAL_TOKEN_HEADER } from "../http/internal-api.ts";
import { PEER_FETCH_HEADER } from "./block-routes.ts";

/** How long a peer region gets to answer for one block. */
export const PEER_BLOCK_TIMEOUT_MS = 30_000;

/** Other regions' internal URLs, nearest first (refreshed by the caller). */
export type PeerRegions = () => Promise<ReadonlyArray<{ readonly name: string; readonly url: string }>>;

/**
 * A region's block store that reads through to other regions: a deploy uploads an image's blocks
 * to one region, and any other region fetches a block it lacks from a peer on first read, checks
 * it against its digest, and keeps it. So images follow functions to every region they run in.
 * Writes and `has`/`missing` are the local store's.
 *
 * @example
 * ```ts
 * const blocks = new PeerBlockStore(local, async () => otherRegions(), internalToken);
 * await blocks.get(digest); // local, else from a peer (then local)
 * ```
 */
export class PeerBlockStore implements BlockStore {
  /** The region's own store (what peers are answered from). */
  readonly local: BlockStore;
  private readonly peers: PeerRegions;
  private readonly internalToken: string;
  private readonly inflight = new Map<string, Promise<Uint8Array>>();

  constructor(local: BlockStore, peers: PeerRegions, internalToken: string) {
    this.local = local;
    this.peers = peers;
    this.internalToken = internalToken;
  }

  has(digest: string): Promise<boolean> {
    return this.local.has(digest);
  }

  put(bytes: Uint8Array, expected?: string): Promise<string> {
    return this.local.put(bytes, expected);
  }

  missing(digests: ReadonlyArray<string>): Promise<string[]> {
    return this.local.missing(digests);
  }

  async get(digest: string): Promise<Uint8Array> {
    try {
      return await this.local.get(digest);
    } catch (e) {
      if (!(e instanceof BlockNotFoundError)) throw e;
    }
    const known = this.inflight.get(digest);
    if (known) return known;
    const p = this.fromPeers(digest).finally(() => this.inflight.delete(digest));
    this.inflight.set(digest, p);
    return p;
  }

  private async fromPeers(digest: string): Promise<Uint8Array> {
    for (const peer of await this.peers()) {
      try {
        const res = await fetch(`${peer.url}/internal/blocks/${digest}`, {
          headers: { [INTERNAL_TOKEN_HEADER]: this.internalToken, [PEER_FETCH_HEADER]: "1" }, signal: AbortSignal.timeout(PEER_BLOCK_TIMEOUT_MS),
        });
        if (!res.ok) {
          await res.body?.cancel();
          continue;
        }
        const bytes = new Uint8Array(await res.arrayBuffer());
        // Verified on the way in: a peer's wrong bytes are refused, never kept or served.
        await this.local.put(bytes, digest);
        return bytes;
      } catch {
        // that peer is down or sent bytes of another digest: ask the next
      }
    }
    throw new BlockNotFoundError({ digest });
  }
}
