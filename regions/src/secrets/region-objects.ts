import type { Client } from "@libsql/client";
import { SecretKey } from "@ferry/core";
import { VolumeStore } from "../volumes/volume-store.ts";
import { prepareContainerStart, type ContainerPreparation } from "./container-start.ts";
import { SecretVault } from "./secret-vault.ts";
import type { FunctionRow } from "@ferry/core";

/** A region's secrets and volumes, and what each container start needs from them. */
export interface RegionObjects {
  readonly vault: SecretVault;
  readonly volumes: VolumeStore;
  readonly prepareStart: (fn: FunctionRow) => Promise<ContainerPreparation>;
}

/**
 * Open a region's secret vault and volume store over its libSQL client. `secretKey` is the
 * platform key (`FERRY_SECRET_KEY`, 32 bytes base64); a malformed key fails the region's start,
 * a missing one leaves secrets unusable (each use says so) but volumes working.
 *
 * @example
 * ```ts
 * const objects = await openRegionObjects(client, process.env.FERRY_SECRET_KEY);
 * ```
 */
export const openRegionObjects = async (client: Client, secretKey: string | undefined): Promise<RegionObjects> => {
  const key = secretKey ? await SecretKey.fromBase64(secretKey) : undefined;
  const vault = new SecretVault(client, key);
  const volumes = new VolumeStore(client);
  return { vault, volumes, prepareStart: prepareContainerStart({ vault, volumes }) };
};
