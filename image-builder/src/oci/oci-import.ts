/**
 * Import an OCI image layout (a directory, or a tar of one as `skopeo copy … oci-archive:` or
 * `docker save` of an OCI layout writes) as layers in the build cache, verifying every blob's digest.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { createGunzip } from "node:zlib";
import { baseKey } from "../build/cache-key.ts";
import type { ImageLayer } from "../build/built-image.ts";
import { FERRY_BASE_ANNOTATION, OCI_INDEX_TYPE, OCI_MANIFEST_TYPE, type OciDescriptor } from "./oci-export.ts";
import { unpackLayer } from "./tar-layer.ts";

/** An OCI layout that cannot be imported: missing files, a digest mismatch, an unsupported layer. */
export class OciImportError extends Error {
  constructor(source: string, problem: string) {
    super(`cannot import OCI image ${source}: ${problem}`);
    this.name = "OciImportError";
  }
}

/** What an import yields: the layers (lowest first) and the image's runtime configuration. */
export interface ImportedOci {
  readonly manifestDigest: string;
  readonly layers: ReadonlyArray<ImageLayer>;
  readonly env: Readonly<Record<string, string>>;
  readonly workdir?: string;
  /** Set when Ferry exported the image over a base it does not carry ("ferry/node": the host's system files). */
  readonly ferryBase?: string;
}

const readBlob = (layout: string, source: string, desc: OciDescriptor): Buffer => {
  const [algo, hex] = desc.digest.split(":");
  if (algo !== "sha256" || !hex || !/^[0-9a-f]{64}$/.test(hex)) throw new OciImportError(source, `unsupported digest ${desc.digest}`);
  const path = join(layout, "blobs", "sha256", hex);
  if (!existsSync(path)) throw new OciImportError(source, `blob ${desc.digest} is missing`);
  const bytes = readFileSync(path);
  if (createHash("sha256").update(bytes).digest("hex") !== hex) throw new OciImportError(source, `blob ${desc.digest} does not match its digest (corrupted)`);
  return bytes;
};

const fileDigest = async (path: string): Promise<string> => {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
};

/** Pick the image manifest from an index: the first for this platform (linux), following nested indexes. */
const pickManifest = (layout: string, source: string, index: { manifests?: OciDescriptor[] }): OciDescriptor => {
  const manifests = index.manifests ?? [];
  const entry = manifests.find((m) => (m as { platform?: { os?: string } }).platform?.os === "linux") ?? manifests[0];
  if (!entry) throw new OciImportError(source, "index.json lists no manifests");
  if (entry.mediaType === OCI_INDEX_TYPE || entry.mediaType === "application/vnd.docker.distribution.manifest.list.v2+json") {
    return pickManifest(layout, source, JSON.parse(readBlob(layout, source, entry).toString("utf8")));
  }
  return entry;
};

const parseEnv = (env: ReadonlyArray<string> | undefined): Record<string, string> =>
  Object.fromEntries((env ?? []).map((kv) => { const i = kv.indexOf("="); return i < 0 ? [kv, ""] : [kv.slice(0, i), kv.slice(i + 1)]; }));

/**
 * Import the OCI image at `source` (a layout directory, or a tar of one) into `layersDir`: each
 * layer unpacked once into `<layersDir>/<key>/diff`, keyed by its digest, so importing again is free.
 *
 * @example
 * ```ts
 * const { layers, env } = await importOci("./debian.oci.tar", "/var/cache/ferry/layers");
 * ```
 */
export const importOci = async (source: string, layersDir: string): Promise<ImportedOci> => {
  if (!existsSync(source)) throw new OciImportError(source, "no such file or directory");
  let layout = source;
  let scratch: string | undefined;
  if (statSync(source).isFile()) {
    scratch = mkdtempSync(join(tmpdir(), "ferry-oci-"));
    const gz = readFileSync(source, { flag: "r" }).subarray(0, 2);
    const input = createReadStream(source);
    await unpackLayer(gz[0] === 0x1f && gz[1] === 0x8b ? input.pipe(createGunzip()) : input, scratch);
    layout = scratch;
  }
  try {
    if (!existsSync(join(layout, "oci-layout")) || !existsSync(join(layout, "index.json"))) {
      throw new OciImportError(source, "not an OCI image layout (no oci-layout or index.json)");
    }
    const manifestDesc = pickManifest(layout, source, JSON.parse(readFileSync(join(layout, "index.json"), "utf8")));
    if (manifestDesc.mediaType && manifestDesc.mediaType !== OCI_MANIFEST_TYPE && manifestDesc.mediaType !== "application/vnd.docker.distribution.manifest.v2+json") {
      throw new OciImportError(source, `unsupported manifest type ${manifestDesc.mediaType}`);
    }
    const manifest = JSON.parse(readBlob(layout, source, manifestDesc).toString("utf8")) as { config: OciDescriptor; layers: OciDescriptor[]; annotations?: Record<string, string> };
    const config = JSON.parse(readBlob(layout, source, manifest.config).toString("utf8")) as { config?: { Env?: string[]; WorkingDir?: string } };
    const layers: ImageLayer[] = [];
    for (const desc of manifest.layers) {
      const key = baseKey({ kind: "oci-layer", digest: desc.digest });
      const dir = join(layersDir, key, "diff");
      if (!existsSync(dir)) {
        const hex = desc.digest.replace(/^sha256:/, "");
        const blob = join(layout, "blobs", "sha256", hex);
        if (!existsSync(blob)) throw new OciImportError(source, `layer ${desc.digest} is missing`);
        if ((await fileDigest(blob)) !== hex) throw new OciImportError(source, `layer ${desc.digest} does not match its digest (corrupted)`);
        const tmp = join(layersDir, `.tmp-${key}-${process.pid}`);
        rmSync(tmp, { recursive: true, force: true });
        const gzipped = desc.mediaType.endsWith("+gzip") || desc.mediaType.endsWith(".gzip");
        if (!gzipped && !desc.mediaType.endsWith(".tar") && !desc.mediaType.endsWith("tar")) throw new OciImportError(source, `unsupported layer type ${desc.mediaType} (gzip or plain tar only)`);
        const input = createReadStream(blob);
        await unpackLayer(gzipped ? input.pipe(createGunzip()) : input, join(tmp, "diff"));
        rmSync(join(layersDir, key), { recursive: true, force: true });
        renameSync(tmp, join(layersDir, key));
      }
      layers.push({ key, dir, createdBy: `oci ${desc.digest}` });
    }
    const workdir = config.config?.WorkingDir;
    const ferryBase = manifest.annotations?.[FERRY_BASE_ANNOTATION];
    return { manifestDigest: manifestDesc.digest, layers, env: parseEnv(config.config?.Env), ...(workdir ? { workdir } : {}), ...(ferryBase === "ferry/node" ? { ferryBase } : {}) };
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
};

