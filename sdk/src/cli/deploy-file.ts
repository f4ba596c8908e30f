import { FerryClient, type DeployResponse } from "../client/ferry-client.ts";
import { bundleApp, type AppBundle } from "../bundling/bundle-app.ts";
import { appFingerprints } from "../bundling/function-fingerprints.ts";
import { discoverApp, type DiscoveredApp } from "../bundling/discover-app.ts";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ImageSpec } from "@ferry/core";
import { isImage } from "../images/image.ts";
import { publishImages, type PublishedImage } from "../images/publish-images.ts";
import { defaultImageCacheDir } from "./image-commands.ts";

export interface DeployedFile {
  readonly discovered: DiscoveredApp;
  /** The bundle deployed (its inputs and hash); `dispose` removes it. */
  readonly bundle: AppBundle;
  readonly response: DeployResponse;
  /** The custom images built and uploaded for this deploy (none when no function has one). */
  readonly images: ReadonlyArray<PublishedImage>;
  dispose(): Promise<void>;
}

const toBase64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");

/**
 * Bundle `file`, find its app and functions, deploy them (`ephemeral` for `ferry run`), and bind
 * the module's function handles to the deployed ids so `.remote()` in the same process reaches them.
 */
export interface DeployFileOptions {
  readonly mode: "deployed" | "ephemeral";
  readonly environment?: string;
  /** Deploy to exactly these regions (`ferry deploy --region us-east,eu-west`); every region when left out. */
  readonly regions?: ReadonlyArray<string>;
  readonly onProgress?: (line: string) => void;
  /** Runs once the app is known, before anything is built or uploaded; throw to refuse the deploy. */
  readonly check?: (discovered: DiscoveredApp) => Promise<void>;
}

export const deployFile = async (client: FerryClient, file: string, opts: DeployFileOptions): Promise<DeployedFile> => {
  opts.onProgress?.(`bundling ${file}`);
  const bundle = await bundleApp(file);
  try {
    const mod = (await import(bundle.localModuleUrl)) as Record<string, unknown>;
    const discovered = discoverApp(mod, file);
    await opts.check?.(discovered);
    const images = await publishAppImages(client, discovered, bundle.code, opts.onProgress);
    const deployed = new Map(discovered.functions.map((f) => [f.name, { ...f.options, ...images.options.get(f.name) }]));
    // Each function's own code: a redeploy restarts only the functions whose fingerprint changed.
    const fingerprints = await appFingerprints(bundle, discovered.functions.map((f) => ({ name: f.name, handle: f.handle, options: deployed.get(f.name) })));
    opts.onProgress?.(`deploying app ${discovered.app.name} (${discovered.functions.length} function${discovered.functions.length === 1 ? "" : "s"}, ${(bundle.code.byteLength / 1024).toFixed(0)} KiB)`);
    const response = await client.deploy({
      name: discovered.app.name,
      mode: opts.mode,
      environment: opts.environment,
      ...(opts.regions !== undefined ? { regions: [...opts.regions] } : {}),
      bundle: toBase64(bundle.code),
      functions: discovered.functions.map((f) => ({ name: f.name, options: { ...deployed.get(f.name), codeFingerprint: fingerprints.get(f.name) } })),
    });
    for (const f of discovered.functions) {
      const id = response.functions.find((r) => r.name === f.name)?.id;
      if (id) f.handle.bindTo(client, id);
    }
    return { discovered, bundle, response, images: images.images, dispose: bundle.dispose };
  } catch (e) {
    await bundle.dispose();
    throw e;
  }
};

/** Build and upload the functions' images (none: nothing to do); `runFunction` steps get the bundle as a file. */
const publishAppImages = async (client: FerryClient, discovered: DiscoveredApp, code: Uint8Array, onProgress?: (line: string) => void) => {
  const functions = discovered.functions.map((f) => ({ name: f.name, image: isImage(f.options.image) ? f.options.image.toSpec() : f.options.image as ImageSpec | undefined }));
  if (functions.every((f) => f.image === undefined)) return { options: new Map(), images: [] };
  const scratch = await mkdtemp(join(tmpdir(), "ferry-deploy-"));
  try {
    const appModule = join(scratch, "app.mjs");
    await writeFile(appModule, code);
    return await publishImages(client, functions, { cacheDir: defaultImageCacheDir(), appModule, onProgress });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
};
