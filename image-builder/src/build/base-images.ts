/**
 * The bases an image starts from, resolved to layers and read-only base entries:
 * - "ferry/node": no layer; the host's system directories, a minimal /etc and the Node runtime
 *   bound read-only (the agent's default sandbox image), so its /usr is not writable by steps;
 * - "debian-slim": one layer made by mmdebstrap (minbase variant) from Debian's archive;
 * - "oci": the layers of an imported OCI image layout (over the host's "ferry/node" base again when
 *   Ferry exported it from one: such a layout says so in its `dev.ferry.image.base` annotation).
 * Every base gets Ferry's Node runtime at /opt/ferry/node. A container's root is the node's own
 * with the image's paths on top for "ferry/node" ("overlay"), and the image itself for the others
 * ("full"): their steps get the host's npm lent, and every step the host's CA bundle (see build-tools.ts).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ImageBase } from "@ferry/core";
// The agent's default sandbox image, by path: @ferry/gpu-agent exports only its agent entry.
import { defaultNodeImageBinds } from "../../../gpu-agent/src/sandbox/image.ts";
import { importOci } from "../oci/oci-import.ts";
import { ImageSpecError } from "./build-errors.ts";
import { caBundleTool, fullRootBuildTools } from "./build-tools.ts";
import type { ImageLayer, ImageRoot } from "./built-image.ts";
import { baseKey } from "./cache-key.ts";
import type { BaseEntry } from "./step-sandbox.ts";

/** Where the Node runtime is in every image. */
export const IMAGE_NODE_DIR = "/opt/ferry/node";
/** Debian mirror for `Image.debianSlim()`. */
export const DEBIAN_MIRROR = "http://deb.debian.org/debian";

/** A resolved base. */
export interface ResolvedBase {
  readonly key: string;
  readonly layers: ReadonlyArray<ImageLayer>;
  readonly entries: ReadonlyArray<BaseEntry>;
  readonly env: Readonly<Record<string, string>>;
  readonly workdir?: string;
  /** How containers of images on this base make their root. */
  readonly root: ImageRoot;
  /** Environment of the build steps only (what the lent tools need), under the image's own. */
  readonly stepEnv: Readonly<Record<string, string>>;
}

const nodeDir = (): string => dirname(process.execPath);

/** Resolve (building or importing once, then from the cache) the base of an image. */
export const resolveBase = async (base: ImageBase, layersDir: string, log: (line: string) => void): Promise<ResolvedBase> => {
  const nodeEntry: BaseEntry = { hostPath: nodeDir(), sandboxPath: IMAGE_NODE_DIR };
  if (base.kind === "snapshot") {
    throw new ImageSpecError(`a sandbox snapshot (${base.id}) is already an image in its region: deploy it as it is; build steps on top of a snapshot are not supported yet`);
  }
  if (base.kind === "ferry/node") {
    const ca = caBundleTool();
    return { key: baseKey({ kind: base.kind, node: process.version }), layers: [], entries: [...defaultNodeImageBinds(nodeDir()), ...ca.entries], env: {}, root: "overlay", stepEnv: ca.env };
  }
  const resolvConf: BaseEntry[] = existsSync("/etc/resolv.conf") ? [{ hostPath: "/etc/resolv.conf", sandboxPath: "/etc/resolv.conf" }] : [];
  const tools = fullRootBuildTools(join(dirname(layersDir), "tools"));
  const fullRootEntries = (): BaseEntry[] => [nodeEntry, ...resolvConf, ...tools.entries];
  if (base.kind === "oci") {
    log(`importing OCI image ${base.path}`);
    const imported = await importOci(base.path, layersDir);
    const overlay = imported.ferryBase === "ferry/node";
    return {
      key: baseKey({ kind: "oci", manifest: imported.manifestDigest, node: process.version }),
      // An image Ferry exported from "ferry/node" carries only its own layers: put the host's base back under them.
      layers: imported.layers, entries: overlay ? [...defaultNodeImageBinds(nodeDir()), ...caBundleTool().entries] : fullRootEntries(), env: imported.env, root: overlay ? "overlay" : "full", stepEnv: tools.env,
      ...(imported.workdir ? { workdir: imported.workdir } : {}),
    };
  }
  const definition = { kind: base.kind, suite: base.suite, variant: "minbase", mirror: DEBIAN_MIRROR };
  const key = baseKey(definition);
  const dir = join(layersDir, key, "diff");
  if (!existsSync(dir)) {
    const tool = ["mmdebstrap", "debootstrap"].find((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status === 0);
    if (!tool) throw new ImageSpecError("Image.debianSlim() needs mmdebstrap (or debootstrap) on the build machine: apt-get install -y mmdebstrap");
    log(`building debian-slim (${base.suite}) with ${tool} from ${DEBIAN_MIRROR}`);
    const tmp = join(layersDir, `.tmp-${key}-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const args = tool === "mmdebstrap"
      ? ["--variant=minbase", "--mode=auto", base.suite, join(tmp, "diff"), DEBIAN_MIRROR]
      : ["--variant=minbase", base.suite, join(tmp, "diff"), DEBIAN_MIRROR];
    const r = spawnSync(tool, args, { stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) {
      throw new ImageSpecError(`${tool} ${args.join(" ")} exited with ${r.status}: ${(r.stderr?.toString() ?? "").split("\n").slice(-20).join("\n")}`);
    }
    writeFileSync(join(tmp, "meta.json"), JSON.stringify({ key, createdBy: `debian-slim ${base.suite}` }));
    rmSync(join(layersDir, key), { recursive: true, force: true });
    renameSync(tmp, join(layersDir, key));
  }
  return {
    key,
    layers: [{ key, dir, createdBy: `debian-slim ${base.suite}` }],
    entries: fullRootEntries(),
    env: {},
    root: "full",
    stepEnv: tools.env,
  };
};
