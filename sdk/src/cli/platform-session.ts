import { FerryClient } from "../client/ferry-client.ts";
import { resolveClientConfig, setClientConfig } from "../config/client-config.ts";
import { startLocalPlatform, type LocalPlatform } from "../platform/local-platform.ts";
import { info } from "./cli-output.ts";

/** The platform a CLI session talks to, and the embedded one it started, if any (stop it after). */
export interface PlatformSession {
  readonly client: FerryClient;
  readonly embedded: LocalPlatform | undefined;
}

/**
 * Connect to the configured platform (`FERRY_URL`/`FERRY_TOKEN` or the `ferry up` profile), or,
 * with none configured, start an embedded one for this session. Also makes it the SDK's default.
 *
 * @example
 * ```ts
 * const { client, embedded } = await connectOrStartPlatform();
 * try { … } finally { await embedded?.stop(); }
 * ```
 */
export const connectOrStartPlatform = async (): Promise<PlatformSession> => {
  let embedded: LocalPlatform | undefined;
  let config = await resolveClientConfig();
  if (!config) {
    info("no platform configured: starting an embedded one (nats-server, libSQL, edge, region, agent)");
    embedded = await startLocalPlatform({ agents: 1 });
    config = { url: embedded.url, token: embedded.token };
  }
  setClientConfig(config);
  return { client: new FerryClient(config), embedded };
};
