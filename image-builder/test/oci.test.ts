import { afterAll, describe, expect, it } from "vitest";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync, createWriteStream, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import * as tar from "tar-stream";
import { buildImage, exportOci, flattenImage, importOci, OciImportError, UnsafeArchiveError } from "../src/index.ts";
import { packLayer } from "../src/oci/tar-layer.ts";

const made: string[] = [];
const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), "ferry-oci-test-"));
  made.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** Every entry under `root`: type, mode, content or link target. */
const describeTree = (root: string): Record<string, string> => {
  const out: Record<string, string> = {};
  const visit = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, r));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[r] = `link -> ${readlinkSync(join(root, r))}`;
      else if (st.isDirectory()) { out[r] = `dir ${mode}`; visit(r); }
      else out[r] = `file ${mode} ${readFileSync(join(root, r), "utf8")}`;
    }
  };
  visit("");
  return out;
};

const sampleImage = async () => {
  const assets = join(scratch(), "assets");
  mkdirSync(join(assets, "bin"), { recursive: true });
  writeFileSync(join(assets, "bin/tool"), "#!/bin/sh\n");
  chmodSync(join(assets, "bin/tool"), 0o750);
  writeFileSync(join(assets, "secret.txt"), "s");
  chmodSync(join(assets, "secret.txt"), 0o600);
  writeFileSync(join(assets, "doomed.txt"), "d");
  symlinkSync("bin/tool", join(assets, "tool-link"));
  return buildImage({
    base: { kind: "ferry/node" },
    steps: [
      { kind: "addLocalDir", local: assets, remote: "/opt/app", copy: true },
      { kind: "env", vars: { MODE: "prod" } },
      { kind: "workdir", path: "/opt/app" },
      { kind: "runCommands", commands: ["rm /opt/app/doomed.txt", "echo built > /opt/app/built.txt"] },
    ],
  }, { cacheDir: scratch() });
};

describe("OCI image layout export and import", () => {
  it("round-trips an image: same files, modes, symlinks and deletions; env and workdir kept", async () => {
    const image = await sampleImage();
    const layout = join(scratch(), "layout");
    const desc = await exportOci(image, layout, { tag: "v1" });
    expect(JSON.parse(readFileSync(join(layout, "oci-layout"), "utf8"))).toEqual({ imageLayoutVersion: "1.0.0" });
    const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8"));
    expect(index.manifests[0].annotations["org.opencontainers.image.ref.name"]).toBe("v1");
    const manifest = JSON.parse(readFileSync(join(layout, "blobs/sha256", desc.digest.slice(7)), "utf8"));
    expect(manifest.layers).toHaveLength(2);
    expect(manifest.layers[0].mediaType).toBe("application/vnd.oci.image.layer.v1.tar+gzip");

    const imported = await importOci(layout, join(scratch(), "layers"));
    expect(imported.env).toEqual({ MODE: "prod" });
    expect(imported.workdir).toBe("/opt/app");
    const original = join(scratch(), "a");
    const roundTripped = join(scratch(), "b");
    flattenImage(image, original);
    flattenImage(imported, roundTripped);
    const tree = describeTree(roundTripped);
    expect(tree).toEqual(describeTree(original));
    expect(tree["opt/app/bin/tool"]).toBe("file 750 #!/bin/sh\n");
    expect(tree["opt/app/secret.txt"]).toBe("file 600 s");
    expect(tree["opt/app/tool-link"]).toBe("link -> bin/tool");
    expect(tree["opt/app/doomed.txt"]).toBeUndefined();
  });

  it("imports a tar of a layout as the base of a new build", async () => {
    const image = await sampleImage();
    const layout = join(scratch(), "layout");
    await exportOci(image, layout);
    const tarPath = join(scratch(), "image.tar");
    await pipeline(packLayer(layout), createWriteStream(tarPath));
    const built = await buildImage({ base: { kind: "oci", path: tarPath }, steps: [{ kind: "runCommands", commands: ["cat /opt/app/built.txt > /copy.txt", "echo $MODE >> /copy.txt"] }] }, { cacheDir: scratch() });
    expect(built.env).toEqual({ MODE: "prod" });
    const root = join(scratch(), "root");
    flattenImage(built, root);
    expect(readFileSync(join(root, "copy.txt"), "utf8")).toBe("built\nprod\n");
  });

  it("refuses a corrupted blob and a layout that is not one", async () => {
    const image = await sampleImage();
    const layout = join(scratch(), "layout");
    const desc = await exportOci(image, layout);
    const manifest = JSON.parse(readFileSync(join(layout, "blobs/sha256", desc.digest.slice(7)), "utf8"));
    writeFileSync(join(layout, "blobs/sha256", manifest.layers[1].digest.slice(7)), "garbage");
    await expect(importOci(layout, join(scratch(), "layers"))).rejects.toThrow(/does not match its digest/);
    await expect(importOci(scratch(), join(scratch(), "layers"))).rejects.toBeInstanceOf(OciImportError);
  });

  it("refuses layer entries that escape the layer ('..' or through a symlink)", async () => {
    const { unpackLayer } = await import("../src/oci/tar-layer.ts");
    const evil = (entries: Array<{ name: string; type?: "symlink"; linkname?: string; body?: string }>) => {
      const pack = tar.pack();
      for (const e of entries) e.type === "symlink" ? pack.entry({ name: e.name, type: "symlink", linkname: e.linkname }) : pack.entry({ name: e.name }, e.body ?? "x");
      pack.finalize();
      return pack;
    };
    const outside = scratch();
    await expect(unpackLayer(evil([{ name: "../escape.txt" }]), join(scratch(), "l"))).rejects.toBeInstanceOf(UnsafeArchiveError);
    await expect(unpackLayer(evil([{ name: "out", type: "symlink", linkname: outside }, { name: "out/pwned.txt" }]), join(scratch(), "l"))).rejects.toBeInstanceOf(UnsafeArchiveError);
    expect(existsSync(join(outside, "pwned.txt"))).toBe(false);
  });
});
