import { containerTransport, type ApiTransport } from "../client/container-transport.ts";

/** Where the SDK finds the platform. */
export interface ClientConfig {
  readonly url: string;
  readonly token: string;
  /** Inside a container: the API bridge, used instead of `url` and `token`. */
  readonly transport?: ApiTransport;
}

/** The `url` of a config that reaches the platform through the container's API bridge. */
export const CONTAINER_API_URL = "ferry-container://api";

/** The profile `ferry up` and `ferry token set` write. */
export const PROFILE_FILE = "config.json";

const profileDir = (env: Record<string, string | undefined>): string | undefined =>
  env.FERRY_HOME ?? (env.HOME ? `${env.HOME}/.ferry` : undefined);

let explicit: ClientConfig | undefined;

/** Point this process's SDK at a platform (the CLI does this for `ferry run`). */
export const setClientConfig = (config: ClientConfig | undefined): void => {
  explicit = config;
};

/**
 * The platform to talk to: set explicitly, else `FERRY_URL` and `FERRY_TOKEN`, else (inside a
 * Ferry container) the container's API bridge, else the profile in `~/.ferry/config.json` (or
 * `$FERRY_HOME`). `undefined` when none.
 */
export const resolveClientConfig = async (): Promise<ClientConfig | undefined> => {
  if (explicit) return explicit;
  const env = typeof process === "undefined" ? {} : process.env;
  if (env.FERRY_URL && env.FERRY_TOKEN) return { url: env.FERRY_URL, token: env.FERRY_TOKEN };
  const transport = containerTransport();
  if (transport) return { url: CONTAINER_API_URL, token: "", transport };
  const dir = profileDir(env);
  if (!dir) return undefined;
  try {
    const { readFile } = await import("node:fs/promises");
    const profile = JSON.parse(await readFile(`${dir}/${PROFILE_FILE}`, "utf8")) as Partial<ClientConfig>;
    return profile.url && profile.token ? { url: profile.url, token: profile.token } : undefined;
  } catch {
    return undefined;
  }
};

/** Write the profile so later commands find this platform. */
export const writeProfile = async (config: ClientConfig): Promise<string> => {
  const dir = profileDir(process.env);
  if (!dir) throw new Error("cannot write a profile: neither FERRY_HOME nor HOME is set");
  const { mkdir, writeFile } = await import("node:fs/promises");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = `${dir}/${PROFILE_FILE}`;
  await writeFile(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return path;
};

/** Remove the profile if it points at `url` (a stopped `ferry up`). */
export const removeProfileFor = async (url: string): Promise<void> => {
  const dir = profileDir(process.env);
  if (!dir) return;
  const { readFile, rm } = await import("node:fs/promises");
  try {
    const profile = JSON.parse(await readFile(`${dir}/${PROFILE_FILE}`, "utf8")) as Partial<ClientConfig>;
    if (profile.url === url) await rm(`${dir}/${PROFILE_FILE}`);
  } catch {
    // no profile: nothing to do
  }
};
