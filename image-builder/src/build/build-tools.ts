/**
 * Tools the builder lends to the steps of a full-root image (a Debian or OCI base), which has
 * Ferry's Node runtime but no npm of its own: the host's npm, read-only, for `npmInstall`, and
 * the host's CA bundle for it (the build machine's trust: a registry behind a TLS-inspecting
 * proxy works as it does on the host). On "ferry/node" the host's /usr, /etc/ssl/certs (and its
 * npm) are already in every step.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readlinkSync, realpathSync, renameSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import type { BaseEntry } from "./step-sandbox.ts";

/** Where the host's npm package is bound in a full-root image's build steps. */
export const BUILD_NPM_DIR = "/opt/ferry/npm";
/** Directory on the build PATH (after the image's own) holding the `npm` and `npx` links. */
export const BUILD_TOOLS_BIN = "/opt/ferry/bin";
/** Where the host's CA bundle is bound in a full-root image's build steps (never over the image's own /etc/ssl). */
export const BUILD_CA_FILE = "/opt/ferry/ca-certificates.crt";
/** Host CA bundles, most usual first. */
const HOST_CA_FILES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"];

/** What a full-root base's steps get lent: read-only entries and the environment that points at them. */
export interface BuildTools {
  readonly entries: ReadonlyArray<BaseEntry>;
  readonly env: Readonly<Record<string, string>>;
}

/**
 * The host's npm package directory (the one whose `bin/npm-cli.js` the `npm` on PATH runs), when it
 * is self-contained (its dependencies bundled under its own node_modules, as Node.js ships it);
 * undefined otherwise.
 *
 * @example
 * ```ts
 * hostNpmPackage(); // "/usr/lib/node_modules/npm"
 * ```
 */
export const hostNpmPackage = (): string | undefined => {
  const found = spawnSync("sh", ["-c", "command -v npm"], { encoding: "utf8" });
  if (found.status !== 0 || found.stdout.trim() === "") return undefined;
  let cli: string;
  try {
    cli = realpathSync(found.stdout.trim());
  } catch {
    return undefined;
  }
  const pkg = dirname(dirname(cli));
  const selfContained = existsSync(join(pkg, "bin", "npm-cli.js")) && existsSync(join(pkg, "node_modules"));
  return selfContained ? pkg : undefined;
};

const linkOnce = (target: string, at: string): void => {
  try {
    if (readlinkSync(at) === target) return;
  } catch {
    // missing: made below
  }
  // Link-then-rename: concurrent builds never see a half-made link.
  const tmp = `${at}.${process.pid}.tmp`;
  symlinkSync(target, tmp);
  renameSync(tmp, at);
};

/**
 * The entries that give a full-root image's build steps `npm` and `npx`: the host's npm package,
 * and a directory of links to its entry points made once under `toolsDir` (bound whole, so the
 * links never show up in a layer). None when the host has no self-contained npm: an
 * `npmInstall` step then fails with "npm: not found" unless the image has its own.
 *
 * @example
 * ```ts
 * const entries = [nodeEntry, ...npmToolEntries(join(cacheDir, "tools"))];
 * ```
 */
export const npmToolEntries = (toolsDir: string, pkg: string | undefined = hostNpmPackage()): BaseEntry[] => {
  if (pkg === undefined) return [];
  const bin = join(toolsDir, "bin");
  mkdirSync(bin, { recursive: true });
  // npm-cli.js starts with `#!/usr/bin/env node`: Ferry's Node on the PATH runs it.
  linkOnce(`${BUILD_NPM_DIR}/bin/npm-cli.js`, join(bin, "npm"));
  linkOnce(`${BUILD_NPM_DIR}/bin/npx-cli.js`, join(bin, "npx"));
  return [{ hostPath: pkg, sandboxPath: BUILD_NPM_DIR }, { hostPath: bin, sandboxPath: BUILD_TOOLS_BIN }];
};

/**
 * The host's CA bundle, lent to every build step at BUILD_CA_FILE (never over the image's own
 * /etc/ssl), with the environment that makes npm (`npm_config_cafile`) and Node
 * (`NODE_EXTRA_CA_CERTS`) trust it: the build machine's trust, so a registry behind a
 * TLS-inspecting proxy works in a step as it does on the host. Nothing when the host has none.
 *
 * @example
 * ```ts
 * const ca = caBundleTool();
 * runStep({ …, base: [...entries, ...ca.entries], env: { ...ca.env, ...imageEnv } });
 * ```
 */
export const caBundleTool = (): BuildTools => {
  const ca = [process.env.SSL_CERT_FILE, ...HOST_CA_FILES].find((p): p is string => p !== undefined && p !== "" && existsSync(p));
  if (ca === undefined) return { entries: [], env: {} };
  return { entries: [{ hostPath: realpathSync(ca), sandboxPath: BUILD_CA_FILE }], env: { npm_config_cafile: BUILD_CA_FILE, NODE_EXTRA_CA_CERTS: BUILD_CA_FILE } };
};

/**
 * Every tool lent to a full-root image's build steps: npm (see npmToolEntries) and the host's CA
 * bundle (see caBundleTool).
 *
 * @example
 * ```ts
 * const tools = fullRootBuildTools(join(cacheDir, "tools"));
 * ```
 */
export const fullRootBuildTools = (toolsDir: string): BuildTools => {
  const ca = caBundleTool();
  return { entries: [...npmToolEntries(toolsDir), ...ca.entries], env: ca.env };
};
