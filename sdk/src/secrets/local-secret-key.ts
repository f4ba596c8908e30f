import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SecretKey } from "@ferry/core";

/** Where a local platform keeps its secret key, inside its state directory. */
export const SECRET_KEY_FILE = "secret.key";

/**
 * The platform key of a local platform (`ferry up`): `FERRY_SECRET_KEY` when set, else the key
 * kept in the state directory, generated (32 random bytes, base64, mode 0600) on first start so a
 * restarted platform still opens its secrets. A deployment sets `FERRY_SECRET_KEY` on every region
 * from its secret manager instead, away from the database.
 *
 * @example
 * ```ts
 * const key = await localSecretKey("/var/lib/ferry"); // "q1w2…=" (base64)
 * ```
 */
export const localSecretKey = async (stateDir: string, env: Record<string, string | undefined> = process.env): Promise<string> => {
  if (env.FERRY_SECRET_KEY) return env.FERRY_SECRET_KEY;
  const path = join(stateDir, SECRET_KEY_FILE);
  const existing = await readFile(path, "utf8").catch(() => undefined);
  if (existing?.trim()) return existing.trim();
  const key = SecretKey.generateBase64();
  await writeFile(path, `${key}\n`, { mode: 0o600, flag: "wx" }).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== "EEXIST") throw e;
  });
  return (await readFile(path, "utf8")).trim();
};
