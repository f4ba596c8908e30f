/**
 * Export a built image as an OCI image layout (https://github.com/opencontainers/image-spec):
 * `oci-layout`, `index.json` and `blobs/sha256/…` holding a manifest, a config and one gzip tar
 * per layer. Tools such as skopeo, podman and containerd read it.
 */
import { createHash } from "node:crypto";
import { createWriteStream, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import type { BuiltImage } from "../build/built-image.ts";
import { packLayer } from "./tar-layer.ts";

export const OCI_MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX_TYPE = "application/vnd.oci.image.index.v1+json";
export const OCI_CONFIG_TYPE = "application/vnd.oci.image.config.v1+json";
export const OCI_LAYER_GZIP_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip";
/** Annotation naming the image in index.json. */
export const OCI_REF_ANNOTATION = "org.opencontainers.image.ref.name";
/** Annotation recording a base whose files are not in the layout (the host-provided "ferry/node"). */
export const FERRY_BASE_ANNOTATION = "dev.ferry.image.base";

/** A content descriptor. */
export interface OciDescriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Readonly<Record<string, string>>;
}

const OCI_ARCH: Readonly<Record<string, string>> = { x64: "amd64", arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x" };

const hashing = (hash: ReturnType<typeof createHash>, count: { n: number }) => new Transform({
  transform(chunk: Buffer, _enc, cb) {
    hash.update(chunk);
    count.n += chunk.length;
    cb(null, chunk);
  },
});

const writeBlob = (dir: string, bytes: Buffer, mediaType: string): OciDescriptor => {
  const digest = createHash("sha256").update(bytes).digest("hex");
  writeFileSync(join(dir, "blobs", "sha256", digest), bytes);
  return { mediaType, digest: `sha256:${digest}`, size: bytes.length };
};

/**
 * Write `image` as an OCI image layout in `dir` (created). Returns the manifest's descriptor.
 * An image on "ferry/node" (or on an OCI layout exported from one) exports only its own layers
 * (the base is the host's system files and Node runtime) and says "ferry/node" in the
 * `dev.ferry.image.base` annotation; a Debian or OCI image exports its whole root.
 *
 * @example
 * ```ts
 * await exportOci(built, "./out/my-image", { tag: "latest" });
 * ```
 */
export const exportOci = async (image: BuiltImage, dir: string, options: { readonly tag?: string } = {}): Promise<OciDescriptor> => {
  const blobs = join(dir, "blobs", "sha256");
  mkdirSync(blobs, { recursive: true });
  const layers: OciDescriptor[] = [];
  const diffIds: string[] = [];
  for (const layer of image.layers) {
    const tmp = join(blobs, `.tmp-${layer.key}`);
    const raw = createHash("sha256");
    const gz = createHash("sha256");
    const rawCount = { n: 0 };
    const gzCount = { n: 0 };
    await pipeline(packLayer(layer.dir), hashing(raw, rawCount), createGzip(), hashing(gz, gzCount), createWriteStream(tmp));
    const digest = gz.digest("hex");
    renameSync(tmp, join(blobs, digest));
    layers.push({ mediaType: OCI_LAYER_GZIP_TYPE, digest: `sha256:${digest}`, size: gzCount.n });
    diffIds.push(`sha256:${raw.digest("hex")}`);
  }
  const config = {
    architecture: OCI_ARCH[process.arch] ?? process.arch,
    os: "linux",
    config: { Env: Object.entries(image.env).map(([k, v]) => `${k}=${v}`), WorkingDir: image.workdir },
    rootfs: { type: "layers", diff_ids: diffIds },
    history: image.layers.map((l) => ({ created_by: l.createdBy })),
  };
  const configDesc = writeBlob(dir, Buffer.from(JSON.stringify(config)), OCI_CONFIG_TYPE);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_TYPE,
    config: configDesc,
    layers,
    // An overlay image (on "ferry/node", directly or through an OCI layout exported from one) carries none of its base's files.
    annotations: { [FERRY_BASE_ANNOTATION]: image.root === "overlay" ? "ferry/node" : image.base.kind, "dev.ferry.image.key": image.key },
  };
  const manifestDesc = writeBlob(dir, Buffer.from(JSON.stringify(manifest)), OCI_MANIFEST_TYPE);
  const indexEntry = { ...manifestDesc, annotations: { [OCI_REF_ANNOTATION]: options.tag ?? "latest" } };
  writeFileSync(join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX_TYPE, manifests: [indexEntry] }));
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  return indexEntry;
};
